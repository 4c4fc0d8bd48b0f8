/** Aliases for the tests of Baseten's own clients against the gateway. */
export const DROPIN_MODELS = {
  /** A BEI engine: the fake treats model ids starting with "bei" as one. */
  'bei-embed': { model_id: 'bei001', environment: 'production', bei: true },
  /** The same engine without "bei": its routes must be listed to be reached. */
  'bei-unlisted': { model_id: 'bei001', environment: 'production' },
};
