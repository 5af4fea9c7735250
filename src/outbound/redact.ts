/**
 * The one secret redactor of every outbound call and every log line: known secret values in each
 * written form, and credential shapes computed per request, so that no secret reaches a log line,
 * an error or the database.
 *
 * The logger applies it to the FINAL serialised log line rather than to chosen fields, because a
 * secret leaks through the places nobody thought of: an error message quoting a request, a stack,
 * a URL in a nested field. The Specter client and the provider clients apply it to every text that
 * came from outside before it becomes an error or an outcome (a proxy or a provider could echo our
 * Authorization header or key back), so nothing secret reaches the database either. Two layers:
 *
 *  1. every given secret value, in each form it takes once written out (raw, JSON-escaped,
 *     JSON-escaped twice for a JSON body inside a string field, URL-encoded, form-encoded);
 *  2. credential shapes whose value is computed per request and so cannot be listed: Specter's
 *     `key=<hash>` query parameter, `Authorization:` headers, `Bearer`/`Basic`/`Qliro`/`Svea`
 *     tokens, and `"access_token":"…"` in token responses.
 *
 * Secrets shorter than MIN_SECRET_LENGTH characters are not masked as values: masking "a" or
 * "42" everywhere would destroy every log line while protecting nothing (a secret that short is
 * not a secret). Layer 2 still applies to them. Every mask is REDACTED, wherever it was applied.
 */

export const REDACTED = '[REDACTED]';
export const MIN_SECRET_LENGTH = 4;

/** Characters of a credential token (base64, base64url, hex, JWT). */
const TOKEN = '[A-Za-z0-9+/_.~-]';

const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // `Authorization: Basic …`, `"authorization":"Bearer …"`, also when JSON-escaped again (\").
  // The whole value goes, whatever the scheme.
  [/(\b(?:proxy-)?authorization\\?["']?\s*[:=]\s*\\?["']?)[^"'\\\r\n,}]+/gi, `$1${REDACTED}`],
  // A scheme followed by a token: at least 20 token characters including a digit, so that prose
  // like "Svea returned 404", "Basic auth failed" or "Qliro order 3456789" is left alone (real
  // tokens are longer: a Qliro signature is 44 characters, a Svea one over 100, a JWT more).
  [new RegExp(`(\\b(?:Bearer|Basic|Qliro|Svea)\\s+)(?=${TOKEN}*[0-9])${TOKEN}{20,}={0,2}`, 'g'), `$1${REDACTED}`],
  // Query and form parameters: Specter's computed `key=`, OAuth form fields, and the usual names.
  [/(\b(?:key|api_?key|secret|client_secret|password|access_token|refresh_token|token|signature)=)[^&\s"'\\#<>]+/gi, `$1${REDACTED}`],
  // Token responses, request bodies and logged request params serialised as JSON (plain or
  // escaped once more), e.g. `"access_token":"…"`, or Specter's `"key":"<md5>"` in a request config.
  [/((?:\\?")(?:access_token|refresh_token|id_token|client_secret|password|key|api_?key|merchantApiKey)\\?"\s*:\s*\\?")(?:[^"\\]|\\(?!"))*/gi, `$1${REDACTED}`],
];

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Every form a secret takes once serialised into a log line. */
function writtenForms(secret: string): string[] {
  const jsonOnce = JSON.stringify(secret).slice(1, -1);
  const jsonTwice = JSON.stringify(jsonOnce).slice(1, -1);
  const urlEncoded = encodeURIComponent(secret);
  const formEncoded = urlEncoded.replace(/%20/g, '+');
  return [secret, jsonOnce, jsonTwice, urlEncoded, formEncoded, JSON.stringify(urlEncoded).slice(1, -1)];
}

export type Redactor = (text: string) => string;

/**
 * Precompiles the secrets into one alternation, longest first, so that a secret containing another
 * is masked whole and each line is scanned once per layer, not once per secret.
 */
export function createRedactor(secrets: ReadonlyArray<string | null | undefined>): Redactor {
  const forms = new Set<string>();
  for (const secret of secrets) {
    // An unset optional secret (Specter's integration key without the v2 scheme) has nothing to mask.
    if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of writtenForms(secret)) forms.add(form);
  }
  const alternation = [...forms]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
  const secretPattern = alternation === '' ? null : new RegExp(alternation, 'g');

  return (text) => {
    // Values first: a pattern might otherwise cut a secret in two and leave half of it.
    let out = secretPattern === null ? text : text.replace(secretPattern, REDACTED);
    for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

export function redact(text: string, secrets: ReadonlyArray<string | null | undefined>): string {
  return createRedactor(secrets)(text);
}
