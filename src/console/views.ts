/** The console's pages other than the overview: the frame, sign-in, confirmations, messages. */
import type { CancellationJob } from '../store/jobs.js';
import type { VanishedOrder } from '../store/vanished.js';
import { html, type HtmlValue, type SafeHtml } from './html.js';

export interface Viewer {
  csrf: string;
  notice: { ok: boolean; text: string } | null;
}

/** ISO 8601 → "2026-12-02 15:12 UTC" (null → "—"). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function money(amount: string | null, currency: string | null): string {
  return amount ? `${amount} ${currency ?? ''}`.trim() : '—';
}

export function csrfField(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${viewer.csrf}" />`;
}

export function page(title: string, body: HtmlValue, viewer: Viewer | null): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title} · specter-sync</title>
        <link rel="stylesheet" href="/console.css" />
      </head>
      <body>
        <header>
          <a class="brand" href="/">specter-sync</a>
          ${
            viewer
              ? html`<form method="post" action="/signout" class="signout">${csrfField(viewer)}<button type="submit" class="link">Sign out</button></form>`
              : null
          }
        </header>
        <main>${viewer?.notice ? html`<p class="notice ${viewer.notice.ok ? 'ok' : 'bad'}" role="status">${viewer.notice.text}</p>` : null} ${body}</main>
      </body>
    </html> `;
}

export function signinPage(problem: string | null): SafeHtml {
  return page(
    'Sign in',
    html`<section class="signin">
      <h1>Operator console</h1>
      <p>Sign in with the console token (the <code>CONSOLE_TOKEN</code> this worker was started with).</p>
      ${problem ? html`<p class="notice bad" role="alert">${problem}</p>` : null}
      <form method="post" action="/signin">
        <label>Token <input type="password" name="token" autocomplete="current-password" required autofocus /></label>
        <button type="submit">Sign in</button>
      </form>
    </section>`,
    null,
  );
}

export function messagePage(title: string, text: string, viewer: Viewer | null): SafeHtml {
  return page(
    title,
    html`<h1>${title}</h1>
      <p>${text}</p>
      <p><a href="/">Back to the overview</a></p>`,
    viewer,
  );
}

export function confirmCancelPage(order: VanishedOrder, viewer: Viewer): SafeHtml {
  return page(
    `Cancel payment of order ${order.orderNo}`,
    html`<h1>Cancel the payment of order ${order.orderNo}?</h1>
      <dl class="facts">
        <dt>Provider</dt>
        <dd>${order.provider ?? '—'}</dd>
        <dt>Reference</dt>
        <dd><code>${order.providerRef ?? '—'}</code></dd>
        <dt>Amount</dt>
        <dd>${money(order.amount, order.currency)}</dd>
        <dt>Payment</dt>
        <dd>${order.paymentState ?? 'not asked yet'}${order.reservedAmount ? `, ${money(order.reservedAmount, order.currency)} still reserved` : ''}</dd>
        <dt>Expires</dt>
        <dd>${when(order.expiresAt)}</dd>
      </dl>
      <p>
        The order no longer exists in Specter. ${order.provider ?? 'The provider'} is asked about the payment first: if it is already cancelled, expired or
        captured, nothing is sent. Otherwise the reservation is cancelled now, once (one idempotency key, whatever happens).
      </p>
      <form method="post" action="/vanished/${order.orderNo}/cancel">
        ${csrfField(viewer)}
        <button type="submit" class="danger">Cancel payment</button>
        <a href="/">Keep it</a>
      </form>`,
    viewer,
  );
}

export function confirmRetryPage(job: CancellationJob, viewer: Viewer): SafeHtml {
  return page(
    `Retry job ${job.id}`,
    html`<h1>Retry job ${job.id} (order ${job.orderNo})?</h1>
      <dl class="facts">
        <dt>Provider</dt>
        <dd>${job.provider ?? 'no route yet'}</dd>
        <dt>Reference</dt>
        <dd><code>${job.providerRef ?? '—'}</code></dd>
        <dt>Amount</dt>
        <dd>${money(job.amount, job.currency)}</dd>
        <dt>Failed because</dt>
        <dd>${job.failureReason ?? '—'}${job.lastErrorCode ? html`: <code>${job.lastErrorCode}</code> ${job.lastErrorMessage ?? ''}` : null}</dd>
      </dl>
      <p>
        The job goes back in the queue with its original idempotency key and is sent now, so the provider recognises a repeat. Specter is asked first whether
        the order still calls for it.
      </p>
      <form method="post" action="/jobs/${job.id}/retry">
        ${csrfField(viewer)}
        <button type="submit" class="danger">Retry</button>
        <a href="/">Not now</a>
      </form>`,
    viewer,
  );
}
