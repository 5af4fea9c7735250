/** The console's one stylesheet, served at /console.css (the CSP allows styles from 'self' only). */
export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #5b6570; --line: #d7dce1; --accent: #0b5cad; --bad: #a1261b; --ok: #1d6b35; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ec; --bg: #15181c; --muted: #9aa4ae; --line: #333a42; --accent: #6cb0f5; --bad: #f08a80; --ok: #7fd69a; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; justify-content: space-between; align-items: center; padding: .6rem 1.2rem; border-bottom: 1px solid var(--line); }
.brand { font-weight: 600; color: var(--fg); text-decoration: none; }
main { padding: 1rem 1.2rem 3rem; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: .4rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.8rem 0 .3rem; }
.muted { color: var(--muted); margin: .2rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
th, td { text-align: left; vertical-align: top; padding: .35rem .5rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: .85rem; }
table.counts { width: auto; }
code { font: 12px/1.3 ui-monospace, Menlo, Consolas, monospace; word-break: break-all; }
small { color: var(--muted); }
.nowrap { white-space: nowrap; }
td.advice { min-width: 16rem; }
td.actions { min-width: 17rem; }
td.actions > .button { margin-bottom: .3rem; }
form.inline { display: flex; flex-wrap: wrap; gap: .3rem; margin: .2rem 0; }
input { font: inherit; padding: .3rem .45rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); min-width: 10rem; flex: 1; }
button, .button { font: inherit; display: inline-block; padding: .3rem .75rem; border: 1px solid var(--accent); border-radius: 4px; background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
.button.danger, button.danger { background: var(--bad); border-color: var(--bad); }
button.link { background: none; border: none; color: var(--accent); padding: 0; }
.notice { padding: .5rem .8rem; border-radius: 4px; border: 1px solid; }
.notice.ok { color: var(--ok); }
.notice.bad { color: var(--bad); }
.signin { max-width: 28rem; margin: 4rem auto; }
.signin form { display: flex; gap: .5rem; align-items: end; }
.signin label { display: flex; flex-direction: column; gap: .2rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1rem; }
figure { margin: 0; }
figcaption { color: var(--muted); font-size: .85rem; }
svg .bar { fill: var(--accent); }
svg .axis { stroke: var(--line); }
svg .label { fill: var(--muted); font-size: 10px; }
`;
