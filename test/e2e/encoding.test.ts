/**
 * Both encodings Specter may declare (utf-8, iso-8859-1) parse end to end with "Åsa Öberg" intact.
 * The worker stores no customer names, so the name also rides in a field it does store (an
 * unrouted payment's reference), and the two encodings must give byte-identical snapshots.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import type { SandboxWorld } from '../../src/sandbox/world.js';
import { expectExit } from '../support/cli.js';
import type { Row } from '../support/db.js';
import { makeOrder } from '../support/orders.js';
import { useSandboxWorld, type Workspace } from '../support/world.js';

jest.setTimeout(60_000);

const NAME = 'Åsa Öberg';

let world!: SandboxWorld;
const workspace = useSandboxWorld((w) => (world = w), {
  orders: [
    makeOrder({ method: 'K', customerName: NAME }),
    // SW (Swish) is unrouted by default: the reference is stored as Specter gives it.
    makeOrder({ method: 'SW', reference: `${NAME} – Göteborg`, customerName: NAME }),
    makeOrder({ method: 'QL', customerName: 'Märta Sjöberg' }),
    makeOrder({ method: 'CL', customerName: 'Örjan Wållberg' }),
  ],
});

/** One getOrders page fetched straight from the sandbox, signed with the v2 key scheme. */
async function signedListing(): Promise<Buffer> {
  const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
  const c = world.specter.credentials;
  const batchNo = randomBytes(16).toString('hex');
  const key = md5(c.integrationKey! + md5(c.apiUserKey + String(c.sbmId) + batchNo));
  const query = new URLSearchParams({
    useXML: '2',
    Action: 'getOrders',
    sbmId: String(c.sbmId),
    apiUserId: c.apiUserId,
    batchNo,
    key,
    fromDate: '2000-01-01',
    toDate: '2099-12-31',
    page: '1',
    pageSize: '500',
  });
  const response = await fetch(`${world.specter.url}getInfo.asp?${query.toString()}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Snapshots without the columns that hold the time of the run. */
function contentOf(ws: Workspace): Row[] {
  return ws.dump().order_snapshots.map(({ first_seen_at: _f, last_seen_at: _l, ...rest }) => rest);
}

describe('encodings', () => {
  it('utf-8 and iso-8859-1 listings give identical snapshots, with "Åsa Öberg" intact', async () => {
    const utf8 = workspace();
    const latin1 = workspace();

    world.specter.setEncoding('utf-8');
    const a = await utf8.run(['once']);
    expectExit(a, 0);
    world.specter.setEncoding('iso-8859-1');
    const b = await latin1.run(['once']);
    expectExit(b, 0);

    const swish = world.specter.orders().find((o) => o.payment?.payTypeIdentifier === 'SW')!;
    expect(utf8.snapshot(swish.orderNo)).toMatchObject({ pay_type_reference: `${NAME} – Göteborg`, route_kind: 'unrouted' });
    expect(latin1.snapshot(swish.orderNo)).toMatchObject({ pay_type_reference: `${NAME} – Göteborg`, route_kind: 'unrouted' });
    const content = contentOf(utf8);
    expect(content).toHaveLength(4);
    expect(contentOf(latin1)).toEqual(content);

    // The same database read through the other encoding sees no change at all.
    const again = await utf8.run(['once']);
    expectExit(again, 0);
    expect(again.events('sync.completed')[0]).toMatchObject({ listed: 4, newOrders: 0, changed: 0, unchanged: 4 });
    expect(contentOf(utf8)).toEqual(content);

    // The premise: the sandbox really answers Latin-1 bytes (Å is 0xC5 there, 0xC3 0x85 in UTF-8).
    const body = await signedListing();
    expect(body.toString('latin1')).toContain('encoding="iso-8859-1"');
    expect(body.includes(Buffer.from([0xc5, 0x73, 0x61]))).toBe(true); // "Åsa" in Latin-1
    expect(body.includes(Buffer.from('Åsa', 'utf8'))).toBe(false);
  });
});
