// A static export, served as files. The app is built inside the workspace so
// Next.js and React resolve from its node_modules; Turbopack must be told
// that the workspace, not the app, is the root it may read from.
export default {
  output: 'export',
  turbopack: { root: process.env.CONSUMER_WORKSPACE_ROOT },
  outputFileTracingRoot: process.env.CONSUMER_WORKSPACE_ROOT,
};
