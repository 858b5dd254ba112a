// The bench's event properties (10 of them), as source text that a page evals: `(i) => ({ … })`.
export const PROPERTIES = `(i) => ({ plan: 'pro', price: 49.99, currency: 'EUR', seats: i, trial: false,
  source: 'pricing-page', tags: ['a', 'b', 'c'], nested: { x: 1, y: 'two' }, experiment: 'checkout-v2', step: 3 })`;
