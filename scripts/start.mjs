// `npm start`: builds the package and will run the demo against the local dev
// collector. Until the demo and collector land (issues #3 and #4), it builds
// the package and says what it will do.
import { spawnSync } from 'node:child_process';

const run = (cmd, args) => {
  const result = spawnSync(cmd, args, { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

run('bash', ['scripts/setup.sh']);
run('bash', ['scripts/build.sh']);
console.log(`
Built pkg/. The demo app (www/) and the local dev collector are not built yet:
once they are, npm start will serve both on 127.0.0.1 and print their URLs.`);
