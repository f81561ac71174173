// Finding the OWASP Core Rule Set and putting its files in the order it is meant to be loaded:
//   crs-setup.conf → our setup rule → [CRS 4: plugins/*-config.conf, plugins/*-before.conf]
//   → before-files → rules/*.conf → [CRS 4: plugins/*-after.conf] → after-files
// Debian's modsecurity-crs package (CRS 3.3) keeps the rules in /usr/share/modsecurity-crs/rules
// and its setup and exclusion files in /etc/modsecurity/crs (see its owasp-crs.load); a CRS
// release directory keeps rules/ beside crs-setup.conf(.example).
//
// Our setup rule does what an operator editing crs-setup.conf would do (rules 900000 and 900110
// of crs-setup.conf.example): it sets the paranoia levels and anomaly thresholds, under both the
// CRS 3 names (paranoia_level, executing_paranoia_level) and the CRS 4 ones
// (blocking_paranoia_level, detection_paranoia_level), so that 901's "set if unset" rules leave
// them alone. Values come from ENV variables the WAF sets per request, which is how per-host
// settings reach one loaded rule set.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { RuleSourceItem } from './seclang/loader.js';
import { expandGlob } from './seclang/loader.js';

/** The id of our setup rule: in ModSecurity's range for local rules, outside CRS's 900000–999999. */
export const SETUP_RULE_ID = 99_901;

export const ENV_PARANOIA = 'keyless_paranoia_level';
export const ENV_EXECUTING_PARANOIA = 'keyless_executing_paranoia_level';
export const ENV_INBOUND_THRESHOLD = 'keyless_inbound_anomaly_score_threshold';
export const ENV_OUTBOUND_THRESHOLD = 'keyless_outbound_anomaly_score_threshold';

export interface CrsLayout {
  /** What we found, for describe(). */
  readonly description: string;
  readonly setup: string;
  readonly rules: string;
  /** Optional files of the distribution (Debian's exclusion templates, CRS 4 plugins). */
  readonly beforeOptional: readonly string[];
  readonly afterOptional: readonly string[];
}

export type CrsLookup = { readonly found: true; readonly layout: CrsLayout } | { readonly found: false; readonly reason: string };

const DEBIAN = {
  rules: '/usr/share/modsecurity-crs/rules',
  etc: '/etc/modsecurity/crs',
};

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Where the CRS is, for `crs: auto` or a directory, with an explicit crs-setup.conf or not. */
export function locateCrs(crs: string, setup: string | undefined): CrsLookup {
  if (crs === 'auto') {
    if (!isDir(DEBIAN.rules)) return { found: false, reason: `no CRS found: ${DEBIAN.rules} does not exist (install Debian's modsecurity-crs package, or set waf.managed.crs to a CRS release directory)` };
    const debianSetup = setup ?? path.join(DEBIAN.etc, 'crs-setup.conf');
    if (!existsSync(debianSetup)) return { found: false, reason: `CRS rules are in ${DEBIAN.rules} but ${debianSetup} is missing` };
    return {
      found: true,
      layout: {
        description: `Debian modsecurity-crs (${DEBIAN.rules})`,
        setup: debianSetup,
        rules: path.join(DEBIAN.rules, '*.conf'),
        beforeOptional: [path.join(DEBIAN.etc, 'REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf')],
        afterOptional: [path.join(DEBIAN.etc, 'RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf')],
      },
    };
  }
  if (!isDir(crs)) return { found: false, reason: `waf.managed.crs: ${crs} is not a directory` };
  // A release directory (rules/ inside) or the rules directory itself.
  const rulesDir = isDir(path.join(crs, 'rules')) ? path.join(crs, 'rules') : crs;
  if (expandGlob(path.join(rulesDir, 'REQUEST-901-*.conf')).length === 0) {
    return { found: false, reason: `${rulesDir} has no REQUEST-901-INITIALIZATION.conf: not a CRS rules directory` };
  }
  const home = rulesDir === crs ? path.dirname(crs) : crs;
  const setupFile = setup ?? [path.join(home, 'crs-setup.conf'), path.join(home, 'crs-setup.conf.example')].find((f) => existsSync(f));
  if (setupFile === undefined || !existsSync(setupFile)) {
    return { found: false, reason: `no crs-setup.conf (or crs-setup.conf.example) in ${home}; set waf.managed.setup` };
  }
  const plugins = path.join(home, 'plugins');
  const hasPlugins = isDir(plugins);
  return {
    found: true,
    layout: {
      description: `CRS directory ${home}`,
      setup: setupFile,
      rules: path.join(rulesDir, '*.conf'),
      beforeOptional: hasPlugins ? [path.join(plugins, '*-config.conf'), path.join(plugins, '*-before.conf')] : [],
      afterOptional: hasPlugins ? [path.join(plugins, '*-after.conf')] : [],
    },
  };
}

/** Our setup rule, as SecLang (it is loaded through the same parser as the CRS files). */
export function setupRuleText(extraTx: Readonly<Record<string, string | number>>): string {
  const setvars = [
    `setvar:'tx.paranoia_level=%{env.${ENV_PARANOIA}}'`,
    `setvar:'tx.blocking_paranoia_level=%{env.${ENV_PARANOIA}}'`,
    `setvar:'tx.executing_paranoia_level=%{env.${ENV_EXECUTING_PARANOIA}}'`,
    `setvar:'tx.detection_paranoia_level=%{env.${ENV_EXECUTING_PARANOIA}}'`,
    `setvar:'tx.inbound_anomaly_score_threshold=%{env.${ENV_INBOUND_THRESHOLD}}'`,
    `setvar:'tx.outbound_anomaly_score_threshold=%{env.${ENV_OUTBOUND_THRESHOLD}}'`,
    ...Object.entries(extraTx).map(([k, v]) => `setvar:'tx.${k}=${String(v).replace(/'/g, "\\'")}'`),
  ];
  return `SecAction "id:${SETUP_RULE_ID},phase:1,pass,nolog,t:none,${setvars.join(',')}"\n`;
}

export interface CrsSources {
  readonly items: readonly RuleSourceItem[];
}

export function crsSources(layout: CrsLayout, before: readonly string[], after: readonly string[], extraTx: Readonly<Record<string, string | number>>): CrsSources {
  return {
    items: [
      { kind: 'file', path: layout.setup },
      { kind: 'text', name: '<keyless waf.managed settings>', text: setupRuleText(extraTx) },
      ...layout.beforeOptional.map((p): RuleSourceItem => ({ kind: 'file', path: p, optional: true })),
      ...before.map((p): RuleSourceItem => ({ kind: 'file', path: p })),
      { kind: 'file', path: layout.rules },
      ...layout.afterOptional.map((p): RuleSourceItem => ({ kind: 'file', path: p, optional: true })),
      ...after.map((p): RuleSourceItem => ({ kind: 'file', path: p })),
    ],
  };
}
