// Size limits shared by the configuration schema and the parts of the WAF that must cover
// everything the configuration allows (the detectors scan values up to the largest body).

/** The largest waf.body.limit the configuration accepts: no value the WAF inspects is longer. */
export const MAX_BODY_LIMIT = 64 * 1024 * 1024;
