import { describe, expect, test } from '@jest/globals';
import { createRedactor, MIN_SECRET_LENGTH, redact, REDACTED } from '../../src/outbound/redact.js';

describe('secret values', () => {
  test('masked wherever they appear, every occurrence', () => {
    expect(redact('a s3cret-A b s3cret-A', ['s3cret-A'])).toBe(`a ${REDACTED} b ${REDACTED}`);
  });

  test('in their JSON-escaped, doubly escaped, URL-encoded and form-encoded forms', () => {
    const secret = 'p"a\\ss w&rd';
    const once = JSON.stringify(secret).slice(1, -1);
    const twice = JSON.stringify(JSON.stringify(secret)).slice(1, -1);
    const url = encodeURIComponent(secret);
    const form = url.replace(/%20/g, '+');
    const out = redact(`${once} | ${twice} | ?x=${url} | ${form}`, [secret]);
    for (const form_ of [once, twice, url, form]) expect(out).not.toContain(form_);
    expect(out.split(REDACTED).length - 1).toBe(4);
  });

  test('the longest secret wins where one contains another', () => {
    expect(redact('abcdefgh', ['abcd', 'abcdefgh'])).toBe(REDACTED);
  });

  test(`secrets shorter than ${MIN_SECRET_LENGTH} characters are not masked as values`, () => {
    expect(redact('a cat sat', ['a', 'at', 'cat'])).toBe('a cat sat');
    expect(redact('the word', ['word'])).toBe(`the ${REDACTED}`);
  });

  test('regex metacharacters in a secret are taken literally', () => {
    expect(redact('x.*+?^${}()|[]\\y and xAAy', ['x.*+?^${}()|[]\\y'])).toBe(`${REDACTED} and xAAy`);
  });

  test('an unset optional secret (null, undefined) masks nothing and hides no other secret', () => {
    expect(redact('null undefined s3cret-A', [null, undefined, 's3cret-A'])).toBe(`null undefined ${REDACTED}`);
  });

  test('no secrets: text passes through (apart from credential shapes)', () => {
    expect(createRedactor([])('nothing to hide')).toBe('nothing to hide');
  });
});

describe('credential shapes', () => {
  test("Specter's key= query parameter, wherever it is in the URL", () => {
    const url = 'https://api.specter.se/getInfo.asp?Action=getOrders&sbmId=1&key=0123456789abcdef0123456789abcdef&useXML=2';
    const out = redact(url, []);
    expect(out).not.toContain('0123456789abcdef');
    expect(out).toContain(`key=${REDACTED}&useXML=2`);
    expect(redact('GET /x?key=abc123', [])).toBe(`GET /x?key=${REDACTED}`);
  });

  test('keys that merely end in "key" are left alone', () => {
    expect(redact('idempotencyKey=3f2a-11', [])).toBe('idempotencyKey=3f2a-11');
  });

  test('Authorization headers, plain and in JSON', () => {
    expect(redact('Authorization: Qliro abc', [])).toBe(`Authorization: ${REDACTED}`);
    expect(redact('{"headers":{"Authorization":"Basic dXNlcjpwYXNz","Accept":"x"}}', [])).toBe(`{"headers":{"Authorization":"${REDACTED}","Accept":"x"}}`);
    expect(redact('"{\\"authorization\\":\\"Bearer abc\\"}"', [])).toBe(`"{\\"authorization\\":\\"${REDACTED}\\"}"`);
  });

  test('scheme tokens outside a header', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig-nature_1';
    expect(redact(`got Bearer ${jwt} back`, [])).toBe(`got Bearer ${REDACTED} back`);
    expect(redact('Svea MTI0ODQyOjBhYmNkZWYwMTIzNDU2Nzg5YWJjZGVm', [])).toBe(`Svea ${REDACTED}`);
    expect(redact('Qliro 3q2+7w4fYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnc=', [])).toBe(`Qliro ${REDACTED}`);
  });

  test('prose about providers is left alone', () => {
    for (const text of ['Svea returned 404', 'Basic auth failed', 'Qliro order 3456789 cancelled', 'Bearer token expired']) {
      expect(redact(text, [])).toBe(text);
    }
  });

  test('access_token in a token response, plain and escaped', () => {
    expect(redact('{"access_token":"eyJ0eXAi.x.y","expires_in":3599}', [])).toBe(`{"access_token":"${REDACTED}","expires_in":3599}`);
    expect(redact('"body":"{\\"access_token\\":\\"tok123\\"}"', [])).toBe(`"body":"{\\"access_token\\":\\"${REDACTED}\\"}"`);
    expect(redact('grant_type=client_credentials&client_secret=abc&scope=x', [])).toBe(`grant_type=client_credentials&client_secret=${REDACTED}&scope=x`);
  });

  test("Specter's key in a logged request config", () => {
    expect(redact('{"params":{"Action":"getOrder","key":"d41d8cd98f00b204e9800998ecf8427e"}}', [])).toBe(
      `{"params":{"Action":"getOrder","key":"${REDACTED}"}}`,
    );
  });
});
