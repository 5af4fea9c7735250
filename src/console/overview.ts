/** The console's main page: what awaits a person first, then jobs, recent runs and health. */
import { JOB_STATES } from '../domain.js';
import { formatAge } from '../format.js';
import type { CancellationJob } from '../store/jobs.js';
import type { VanishedOrder } from '../store/vanished.js';
import { barChart } from './charts.js';
import type { Overview } from './data.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, money, page, when, type Viewer } from './views.js';

/** What a person should do about a vanished order, from what its provider last said. */
function vanishedAdvice(v: VanishedOrder): string {
  const provider = v.provider ?? 'the provider';
  if (v.provider === null) return `No provider route covers this payment: settle it by hand, then Resolve with a note.`;
  switch (v.paymentState) {
    case 'reserved':
      return `Money is still reserved${v.expiresAt ? ` until ${when(v.expiresAt)}` : ''}: Cancel payment to release it, or Resolve if it needs nothing.`;
    case 'captured':
      return `The payment was captured: the customer paid. Decide whether to refund at ${provider}, then Resolve with a note.`;
    case 'not_found':
      return `${provider} does not know this payment: check the reference in Specter, then Resolve with a note.`;
    case 'unknown':
      return `${provider} could not tell the payment's state: check it at ${provider}, then Cancel payment or Resolve.`;
    case 'cancelled':
    case 'expired':
      return `Nothing is left to release; Resolve it.`;
    case null:
      return `${provider} was not asked yet (not configured?): Cancel payment to release the reservation, or Resolve if it needs nothing.`;
  }
}

function jobAdvice(job: CancellationJob): string {
  const provider = job.provider ?? 'the provider';
  if (job.lastErrorCode === 'LIVE_TWIN') return 'Held: a live order shares this payment reference. Retry only if the money must go anyway; else Dismiss.';
  switch (job.failureReason) {
    case 'captured':
      return `Captured: the customer paid. A refund is a person's decision at ${provider}; then Dismiss with a note.`;
    case 'not_found':
      return `${provider} does not know payment ${job.providerRef ?? ''}: check the reference in Specter; cancel by hand if it exists, then Dismiss.`;
    case 'auth':
      return `${provider} refused the worker's credentials: fix them, then Retry.`;
    case 'rejected':
      return `${provider} refused the cancellation: check the payment there, cancel or refund it by hand, then Dismiss.`;
    case 'exhausted':
      return `No final answer from ${provider}: check the payment there; Retry, or cancel it by hand and Dismiss.`;
    case 'unrouted':
      return 'No route covers this payment: add a routing rule and Retry, or settle it by hand and Dismiss.';
    case null:
      return 'Check the payment at its provider; Retry or Dismiss.';
  }
}

function noteForm(action: string, button: string, viewer: Viewer): SafeHtml {
  return html`<form method="post" action="${action}" class="inline">
    ${csrfField(viewer)}
    <input name="note" required maxlength="1000" placeholder="note: what was done" aria-label="note" />
    <button type="submit">${button}</button>
  </form>`;
}

function vanishedSection(list: readonly VanishedOrder[], viewer: Viewer): SafeHtml {
  if (list.length === 0) return html`<p class="muted">No vanished orders await a person.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Order</th>
        <th>Date</th>
        <th>Provider</th>
        <th>Reference</th>
        <th>Amount</th>
        <th>Payment</th>
        <th>Expires</th>
        <th>What to do</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${list.map(
        (v) =>
          html`<tr id="order-${v.orderNo}">
            <td>${v.orderNo}</td>
            <td class="nowrap" title="${v.orderDate}">${v.orderDate.slice(0, 10)}</td>
            <td>${v.provider ?? '—'}</td>
            <td><code>${v.providerRef ?? v.payTypeReference ?? '—'}</code></td>
            <td>${money(v.amount, v.currency)}</td>
            <td>${v.paymentState ?? 'not asked'}${v.reservedAmount ? html`<br /><small>${money(v.reservedAmount, v.currency)} reserved</small>` : null}</td>
            <td class="nowrap">${when(v.expiresAt)}</td>
            <td class="advice">${vanishedAdvice(v)}${v.note ? html`<br /><small>${v.note}</small>` : null}</td>
            <td class="actions">
              ${v.provider ? html`<a class="button danger" href="/vanished/${v.orderNo}/cancel">Cancel payment</a>` : null}
              ${noteForm(`/vanished/${v.orderNo}/resolve`, 'Resolve', viewer)}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function failedSection(jobs: readonly CancellationJob[], viewer: Viewer): SafeHtml {
  if (jobs.length === 0) return html`<p class="muted">No failed jobs await a person.</p>`;
  return html`<table>
    <thead>
      <tr>
        <th>Job</th>
        <th>Order</th>
        <th>Provider</th>
        <th>Reference</th>
        <th>Amount</th>
        <th>Reason</th>
        <th>What to do</th>
        <th></th>
      </tr>
    </thead>
    <tbody>
      ${jobs.map(
        (j) =>
          html`<tr id="job-${j.id}">
            <td>${j.id}</td>
            <td>${j.orderNo}</td>
            <td>${j.provider ?? '—'}</td>
            <td><code>${j.providerRef ?? j.payTypeReference ?? '—'}</code></td>
            <td>${money(j.amount, j.currency)}</td>
            <td>
              ${j.failureReason ?? '—'}${j.lastErrorCode ? html`<br /><small><code>${j.lastErrorCode}</code> ${(j.lastErrorMessage ?? '').slice(0, 200)}</small>` : null}
            </td>
            <td class="advice">${jobAdvice(j)}</td>
            <td class="actions">
              <a class="button" href="/jobs/${j.id}/retry">Retry</a>
              ${noteForm(`/jobs/${j.id}/dismiss`, 'Dismiss', viewer)}
            </td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function jobsSection(model: Overview): SafeHtml {
  return html`<table class="counts">
      <thead>
        <tr>
          ${JOB_STATES.map((s) => html`<th>${s}</th>`)}
        </tr>
      </thead>
      <tbody>
        <tr>
          ${JOB_STATES.map((s) => html`<td>${model.jobCounts[s]}</td>`)}
        </tr>
      </tbody>
    </table>
    ${
      model.openJobs.length === 0
        ? html`<p class="muted">No job is on its way (pending, sending or accepted).</p>`
        : html`<table>
            <thead>
              <tr>
                <th>Job</th>
                <th>Order</th>
                <th>Provider</th>
                <th>Reference</th>
                <th>State</th>
                <th>Attempts</th>
                <th>Next attempt</th>
                <th>Last error</th>
              </tr>
            </thead>
            <tbody>
              ${model.openJobs.map(
                (j) =>
                  html`<tr>
                    <td>${j.id}</td>
                    <td>${j.orderNo}</td>
                    <td>${j.provider ?? '—'}</td>
                    <td><code>${j.providerRef ?? '—'}</code></td>
                    <td>${j.state}</td>
                    <td>${j.attempts}</td>
                    <td>${j.state === 'pending' ? when(j.nextAttemptAt) : '—'}</td>
                    <td>${j.lastErrorCode ? `${j.lastErrorCode}: ${(j.lastErrorMessage ?? '').slice(0, 120)}` : '—'}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }`;
}

function durationSeconds(startedAt: string, finishedAt: string): number {
  return Math.max(0, (Date.parse(finishedAt) - Date.parse(startedAt)) / 1000);
}

function formatDuration(seconds: number): string {
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`;
}

function runsSection(model: Overview): SafeHtml {
  const chronological = [...model.runs].reverse();
  const durations = barChart(
    'Cycle durations, oldest to newest (seconds)',
    chronological.map((r) => {
      const s = durationSeconds(r.started_at, r.finished_at);
      return { label: when(r.finished_at), value: s, title: `${when(r.finished_at)}: ${formatDuration(s)}` };
    }),
    's',
  );
  const perDay = barChart(
    'Cancellations confirmed per day (UTC), the last 14 days',
    model.cancellationsByDay.map((d) => ({ label: d.day.slice(5), value: d.count, title: `${d.day}: ${d.count}` })),
    'a day',
    { showLabels: true },
  );
  const rows =
    model.runs.length === 0
      ? html`<p class="muted">No successful run yet.</p>`
      : html`<table>
          <thead>
            <tr>
              <th>Finished</th>
              <th>Outcome</th>
              <th>Listed</th>
              <th>New</th>
              <th>Changed</th>
              <th>Cancelled</th>
              <th>Vanished</th>
              <th>Jobs made</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            ${model.runs.map(
              (r) =>
                html`<tr>
                  <td>${when(r.finished_at)}</td>
                  <td>${r.outcome}${r.guard_tripped ? ' (vanish guard tripped)' : ''}</td>
                  <td>${r.listed}</td>
                  <td>${r.new_orders}</td>
                  <td>${r.changed}</td>
                  <td>${r.cancelled}</td>
                  <td>${r.vanished}</td>
                  <td>${r.jobs_created}</td>
                  <td>${formatDuration(durationSeconds(r.started_at, r.finished_at))}</td>
                </tr>`,
            )}
          </tbody>
        </table>`;
  return html`<div class="charts">${durations}${perDay}</div>
    ${rows}`;
}

function healthSection(model: Overview): SafeHtml {
  return html`<dl class="facts">
    <dt>Last successful run</dt>
    <dd>${model.lastSuccess ? `${when(model.lastSuccess.finishedAt)} (${formatAge(model.lastSuccess.ageMs)} ago)` : 'never'}</dd>
    <dt>Database lease</dt>
    <dd>${model.lease ? html`held by <code>${model.lease.holder}</code> until ${when(model.lease.expiresAt)}` : 'free (no cycle is running now)'}</dd>
    <dt>Page made</dt>
    <dd>${when(model.nowIso)}</dd>
  </dl>`;
}

export function overviewPage(model: Overview, viewer: Viewer): SafeHtml {
  const awaiting = model.vanished.length + model.failedJobs.length;
  return page(
    'Console',
    html`<h1>${awaiting === 0 ? 'Nothing awaits a person' : `${awaiting} thing(s) await a person`}</h1>
      <section id="vanished">
        <h2>Vanished orders (${model.vanished.length})</h2>
        <p class="muted">Deleted in Specter while a payment may still be reserved. Soonest expiry first.</p>
        ${vanishedSection(model.vanished, viewer)}
      </section>
      <section id="failed">
        <h2>Failed jobs (${model.failedJobs.length})</h2>
        <p class="muted">Cancellations that did not go through and will not be tried again by themselves.</p>
        ${failedSection(model.failedJobs, viewer)}
      </section>
      <section id="jobs">
        <h2>Jobs by state</h2>
        ${jobsSection(model)}
      </section>
      <section id="runs">
        <h2>Recent runs</h2>
        ${runsSection(model)}
      </section>
      <section id="health">
        <h2>Health</h2>
        ${healthSection(model)}
      </section>`,
    viewer,
  );
}
