import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { renderSandboxOrder } from '../../src/sandbox/specter/render.js';
import type { SandboxOrder } from '../../src/sandbox/specter/types.js';
import { SpecterError } from '../../src/specter/errors.js';
import { decodeSpecterBody, parseSpecterDocument } from '../../src/specter/xml.js';

const ORDER = `<order orderNo="100234" externalOrderNo="WEB-5512" orderDate="2026-11-20 10:15:00" lastChanged="2026-11-21 08:00:00">
      <orderstatus statusId="2" deliveryStatus="N"/>
      <payment payTypeIdentifier="QL" payTypeReference="QLIRO-3381022" payTypeIdentifierPaySystemUser="12345"
               currency="SEK" totalIncVat="1249.00"/>
      <customer name="Åsa Öberg"/>
    </order>`;

function doc(inner: string, encoding = 'utf-8', header = 'page="1" pageSize="500" totalPages="1" totalCount="1"'): string {
  return `<?xml version="1.0" encoding="${encoding}"?>\n<SBM>\n  <orders ${header}>\n    ${inner}\n  </orders>\n</SBM>\n`;
}

function order(attributes: string, children = '<orderstatus statusId="2"/>'): string {
  return `<order ${attributes}>${children}</order>`;
}

function failure(fn: () => unknown): SpecterError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecterError);
    return error as SpecterError;
  }
  throw new Error('expected a SpecterError, nothing was thrown');
}

describe('decodeSpecterBody', () => {
  it('decodes utf-8 bytes with "Åsa Öberg" intact', () => {
    const xml = doc(ORDER, 'utf-8');
    const text = decodeSpecterBody(Buffer.from(xml, 'utf8'));
    expect(parseSpecterDocument(text).orders[0]?.customerName).toBe('Åsa Öberg');
  });

  it('decodes iso-8859-1 bytes with "Åsa Öberg" intact', () => {
    const xml = doc(ORDER, 'ISO-8859-1');
    const bytes = Buffer.from(xml, 'latin1');
    expect(bytes.includes(Buffer.from([0xc5]))).toBe(true); // Å as one Latin-1 byte
    const text = decodeSpecterBody(bytes);
    expect(parseSpecterDocument(text).orders[0]?.customerName).toBe('Åsa Öberg');
  });

  it('treats a body without a declaration as utf-8 and skips a UTF-8 BOM', () => {
    const xml = '<SBM><orders/></SBM>';
    expect(decodeSpecterBody(Buffer.from(xml))).toBe(xml);
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc(ORDER), 'utf8')]);
    expect(parseSpecterDocument(decodeSpecterBody(withBom)).orders[0]?.customerName).toBe('Åsa Öberg');
  });

  it('rejects a body that declares utf-8 but carries Latin-1 bytes (instead of mangling names)', () => {
    const bytes = Buffer.from(doc(ORDER, 'utf-8'), 'latin1');
    const error = failure(() => decodeSpecterBody(bytes));
    expect(error.kind).toBe('malformed');
    expect(error.message).toMatch(/not valid UTF-8/);
  });

  it('rejects an unknown encoding', () => {
    const error = failure(() => decodeSpecterBody(Buffer.from(doc(ORDER, 'windows-1257'), 'latin1')));
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain('"windows-1257"');
  });
});

describe('parseSpecterDocument: documents', () => {
  it('parses the documented example completely', () => {
    const page = parseSpecterDocument(doc(ORDER, 'utf-8', 'page="1" pageSize="500" totalPages="3" totalCount="1234"'));
    expect(page).toEqual({
      page: 1,
      pageSize: 500,
      totalPages: 3,
      totalCount: 1234,
      orders: [
        {
          orderNo: '100234',
          externalOrderNo: 'WEB-5512',
          orderDate: '2026-11-20 10:15:00',
          lastChanged: '2026-11-21 08:00:00',
          statusId: '2',
          deliveryStatus: 'N',
          customerName: 'Åsa Öberg',
          payment: {
            payTypeIdentifier: 'QL',
            payTypeReference: 'QLIRO-3381022',
            payTypeIdentifierPaySystemUser: '12345',
            currency: 'SEK',
            totalIncVat: '1249.00',
          },
        },
      ],
    });
  });

  it('gives old orders without <payment>, deliveryStatus or customer nulls, and accepts a date without time', () => {
    const page = parseSpecterDocument(doc(order('orderNo="7" orderDate="2019-03-01"', '<orderstatus statusId="4" deliveryStatus=""/>')));
    expect(page.orders[0]).toEqual({
      orderNo: '7',
      externalOrderNo: null,
      orderDate: '2019-03-01',
      lastChanged: null,
      statusId: '4',
      deliveryStatus: null,
      customerName: null,
      payment: null,
    });
  });

  it('ignores unknown elements and attributes, including an <order> nested inside an unknown element', () => {
    const xml = doc(
      `<meta><order orderNo="999" orderDate="2026-01-01"><orderstatus statusId="5"/></order></meta>` +
        order('orderNo="1" orderDate="2026-01-01 00:00:00" colour="blue"', '<orderstatus statusId="2" x="y"><deep/></orderstatus><rows><row sku="A"/></rows>'),
    );
    const page = parseSpecterDocument(xml);
    expect(page.orders.map((o) => o.orderNo)).toEqual(['1']);
  });

  it('decodes entity and character references in values', () => {
    const page = parseSpecterDocument(doc(order('orderNo="1" orderDate="2026-01-01" externalOrderNo="A&amp;B &#197;"')));
    expect(page.orders[0]?.externalOrderNo).toBe('A&B Å');
  });

  it('accepts whitespace before the XML declaration (classic ASP emits a line break there)', () => {
    expect(parseSpecterDocument(`\r\n  ${doc(ORDER)}`).orders).toHaveLength(1);
  });

  it('returns null header values when attributes are missing (an empty <orders/>)', () => {
    expect(parseSpecterDocument('<?xml version="1.0"?><SBM><orders/></SBM>')).toEqual({
      page: null,
      pageSize: null,
      totalPages: null,
      totalCount: null,
      orders: [],
    });
  });

  it('throws kind "api" with the code and message for an <APIresponse>', () => {
    const error = failure(() =>
      parseSpecterDocument('<?xml version="1.0" encoding="utf-8"?><SBM><APIresponse><code>30</code><message>Too many requests</message></APIresponse></SBM>'),
    );
    expect(error.kind).toBe('api');
    expect(error.code).toBe(30);
    expect(error.message).toContain('Too many requests');
  });

  it('rejects an <APIresponse> without a numeric code', () => {
    const error = failure(() => parseSpecterDocument('<SBM><APIresponse><code>x</code></APIresponse></SBM>'));
    expect(error.kind).toBe('malformed');
  });

  it('rejects a DOCTYPE with entity declarations (billion laughs) without expanding anything', () => {
    const laughs =
      '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
      Array.from({ length: 9 }, (_, i) => ` <!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('\n') +
      '\n]>\n<SBM><orders page="1" totalPages="1" totalCount="1">' +
      order('orderNo="1" orderDate="2026-01-01" externalOrderNo="&lol9;"') +
      '</orders></SBM>';
    const started = performance.now();
    const error = failure(() => parseSpecterDocument(laughs));
    expect(error.kind).toBe('malformed');
    expect(error.message).toMatch(/DOCTYPE/);
    // Refused at the DOCTYPE, before any expansion: fast, not merely correct (a generous bound).
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('rejects a wrong root element, naming it', () => {
    const error = failure(() => parseSpecterDocument('<?xml version="1.0"?><Orders><orders/></Orders>'));
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain('<Orders>');
  });

  it('rejects an XHTML error page as malformed XML structure', () => {
    expect(failure(() => parseSpecterDocument('<html><body>Error</body></html>')).kind).toBe('malformed');
  });

  it('rejects truncated XML', () => {
    const full = doc(ORDER);
    for (const cut of [full.length - 10, Math.floor(full.length / 2), 60]) {
      const error = failure(() => parseSpecterDocument(full.slice(0, cut)));
      expect(error.kind).toBe('malformed');
    }
  });

  it('rejects a root without <orders> or <APIresponse>, and two <orders>', () => {
    expect(failure(() => parseSpecterDocument('<SBM/>')).message).toMatch(/neither <orders> nor <APIresponse>/);
    expect(failure(() => parseSpecterDocument('<SBM><orders/><orders/></SBM>')).message).toMatch(/more than one <orders>/);
  });

  it('rejects non-integer header attributes', () => {
    const error = failure(() => parseSpecterDocument(doc(ORDER, 'utf-8', 'page="1" totalPages="3" totalCount="1,234"')));
    expect(error.message).toContain('totalCount "1,234"');
  });

  it('rejects an empty document', () => {
    expect(failure(() => parseSpecterDocument('')).kind).toBe('malformed');
  });
});

describe('parseSpecterDocument: a malformed order names the order, the field and the value', () => {
  const cases: Array<[string, string, string]> = [
    [
      'totalIncVat with a comma',
      order('orderNo="100234" orderDate="2026-11-20 10:15:00"', '<orderstatus statusId="2"/><payment currency="SEK" totalIncVat="12,50"/>'),
      'order 100234: totalIncVat "12,50" is not a decimal with a dot',
    ],
    [
      'lowercase currency',
      order('orderNo="100234" orderDate="2026-11-20"', '<orderstatus statusId="2"/><payment currency="sek"/>'),
      'order 100234: currency "sek"',
    ],
    ['a date with slashes', order('orderNo="100234" orderDate="2026/11/20 10:15:00"'), 'order 100234: orderDate "2026/11/20 10:15:00"'],
    ['an impossible month', order('orderNo="100234" orderDate="2026-13-01 00:00:00"'), 'orderDate "2026-13-01 00:00:00"'],
    ['a day the month does not have', order('orderNo="100234" orderDate="2026-02-29 10:00:00"'), 'orderDate "2026-02-29 10:00:00" is not a calendar date'],
    ['a bad lastChanged', order('orderNo="100234" orderDate="2026-11-20" lastChanged="yesterday"'), 'order 100234: lastChanged "yesterday"'],
    ['a missing orderDate', order('orderNo="100234"'), 'order 100234: orderDate is missing'],
    ['a padded statusId', order('orderNo="100234" orderDate="2026-11-20"', '<orderstatus statusId=" 5"/>'), 'order 100234: statusId " 5" is not an integer'],
    ['a missing statusId', order('orderNo="100234" orderDate="2026-11-20"', '<orderstatus deliveryStatus="D"/>'), 'order 100234: statusId is missing'],
    ['no <orderstatus>', order('orderNo="100234" orderDate="2026-11-20"', ''), 'order 100234: <orderstatus> is missing'],
    [
      'two <payment>',
      order('orderNo="100234" orderDate="2026-11-20"', '<orderstatus statusId="2"/><payment/><payment/>'),
      'order 100234: more than one <payment>',
    ],
    ['a letter in orderNo', order('orderNo="10A" orderDate="2026-11-20"'), 'orderNo "10A" is not a positive integer'],
    ['a leading zero in orderNo', order('orderNo="0123" orderDate="2026-11-20"'), 'orderNo "0123"'],
    ['no orderNo', order('orderDate="2026-11-20"'), 'order #1 on the page has no orderNo'],
    [
      'a payment code with a space',
      order('orderNo="100234" orderDate="2026-11-20"', '<orderstatus statusId="2"/><payment payTypeIdentifier="Q L"/>'),
      'payTypeIdentifier "Q L"',
    ],
  ];
  it.each(cases)('%s', (_name, xml, expected) => {
    const error = failure(() => parseSpecterDocument(doc(xml)));
    expect(error.kind).toBe('malformed');
    expect(error.message).toContain(expected);
  });

  it('names the position of an order that has no usable orderNo', () => {
    const xml = doc(order('orderNo="1" orderDate="2026-01-01"') + order('orderNo="x" orderDate="2026-01-01"'));
    expect(failure(() => parseSpecterDocument(xml)).message).toContain('order #2 on the page');
  });
});

describe('parseSpecterDocument: round trip with the sandbox renderer', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  const optionalText = fc.option(
    text.filter((s) => s !== ''),
    { nil: null },
  );
  const orderArb: fc.Arbitrary<SandboxOrder> = fc.record({
    orderNo: fc.bigInt({ min: 1n, max: 10n ** 20n }).map(String),
    externalOrderNo: optionalText,
    orderDate: fc
      .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
      .chain((d) => fc.constantFrom(d.toISOString().slice(0, 19).replace('T', ' '), d.toISOString().slice(0, 10))),
    lastChanged: fc.constant(null),
    statusId: fc.nat({ max: 99 }).map(String),
    deliveryStatus: fc.option(fc.constantFrom('N', 'D', 'P'), { nil: null }),
    customerName: optionalText,
    payment: fc.option(
      fc.record({
        payTypeIdentifier: fc.option(fc.constantFrom('QL', 'K', 'KG', 'CL', 'WA', 'SP', 'SW'), { nil: null }),
        payTypeReference: optionalText,
        payTypeIdentifierPaySystemUser: optionalText,
        currency: fc.option(fc.constantFrom('SEK', 'NOK', 'EUR'), { nil: null }),
        totalIncVat: fc.option(
          fc.tuple(fc.integer({ min: -99999, max: 999999 }), fc.nat({ max: 99 })).map(([k, o]) => `${k}.${String(o).padStart(2, '0')}`),
          { nil: null },
        ),
      }),
      { nil: null },
    ),
  });

  it('parses back exactly what the sandbox rendered (both encodings)', () => {
    fc.assert(
      fc.property(orderArb, fc.constantFrom('utf-8', 'iso-8859-1'), (o, encoding) => {
        // C0/C1 control characters and U+FFFE/U+FFFF cannot travel in XML 1.0 (the sandbox
        // replaces them); everything else, including tabs, newlines and astral characters, must.
        const texts = [o.externalOrderNo, o.customerName, o.payment?.payTypeReference, o.payment?.payTypeIdentifierPaySystemUser];
        // eslint-disable-next-line no-control-regex -- the characters XML 1.0 cannot carry are what this filters out
        fc.pre(!texts.some((v) => typeof v === 'string' && /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufffe\uffff]/.test(v)));
        const xml = doc(renderSandboxOrder(o), encoding);
        const bytes = Buffer.from(xml, encoding === 'utf-8' ? 'utf8' : 'latin1');
        const parsed = parseSpecterDocument(decodeSpecterBody(bytes));
        expect(parsed.orders).toEqual([o]);
      }),
      { numRuns: 300 },
    );
  });
});
