/** Numbers with units and dates in the viewer's time zone, one way everywhere. */
const nf = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const dtf = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });

export function num(n: number | null | undefined): string {
  return n === null || n === undefined || Number.isNaN(n) ? '–' : nf.format(n);
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (n < 1000) return `${nf.format(n)} ms`;
  if (n < 120_000) return `${nf.format(n / 1000)} s`;
  return `${nf.format(n / 60_000)} min`;
}

export function pct(ratio: number | null | undefined): string {
  return ratio === null || ratio === undefined ? '–' : `${nf.format(ratio * 100)} %`;
}

export function mb(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : `${nf.format(n)} MB`;
}

export function rate(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : `${nf.format(n)}/s`;
}

export function when(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dtf.format(d);
}

/** "12 s ago" for a recent instant. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '–';
  const s = (now - Date.parse(iso)) / 1000;
  if (Number.isNaN(s)) return '–';
  if (s < 1) return 'now';
  if (s < 120) return `${Math.round(s)} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

export function shortId(id: string | null | undefined): string {
  return id === null || id === undefined ? '–' : id.slice(0, 8);
}

export function json(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value, null, 2);
}
