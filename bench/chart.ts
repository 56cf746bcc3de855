/**
 * The chart `npm run bench` writes (bench/results/latest.svg): plain SVG built as a string, no
 * browser and no dependency.
 *
 * Four (or six) panels of horizontal bars, one row per engine and one bar per payload size: receivers' CPU
 * µs per datagram and receive rate (with loss), senders' send rate and CPU µs per datagram. The C
 * baselines (grey) and raw `node:dgram` (orange) sit beside mediasock's engines (blue), as in the
 * tables the bench prints. When the run has them, `mediasock recv` joins the receivers and a fifth
 * and sixth panel show the relays (C and `mediasock relay`, 1 and 4 outputs). A caption line says
 * when, on what machine and under what load.
 */

/** One row of the bench's receiver or sender table (the keys `bench/run.ts` fills in). */
export type BenchRow = Record<string, number | string>;

export interface BenchChartInput {
  /** Receivers fed by the C GSO sender: `case`, `size`, `rx_pps`, `rx_cpu_us`, `loss_pct`. */
  rxRows: readonly BenchRow[];
  /** Senders into the C recvmmsg receiver: `case`, `size`, `tx_pps`, `tx_cpu_us`. */
  txRows: readonly BenchRow[];
  /** Relays fed by the C GSO sender (`c-relay-N`, `cli-relay-N`): `rx_cpu_us`, `rx_pps`, `loss_pct`. */
  relayRows?: readonly BenchRow[];
  /** Payload sizes of the run, in bytes. */
  sizes: readonly number[];
  /** The caption: date, machine, load (one line each entry; the first two are shown). */
  caption: readonly string[];
}

type Family = 'c' | 'mediasock' | 'dgram';

interface Engine {
  key: string;
  label: string;
  family: Family;
}

const receivers: Engine[] = [
  { key: 'c-recvmmsg', label: 'C recvmmsg', family: 'c' },
  { key: 'batch', label: 'batch engine', family: 'mediasock' },
  { key: 'node', label: 'node engine', family: 'mediasock' },
  { key: 'dgram', label: 'node:dgram', family: 'dgram' },
  { key: 'cli-recv', label: 'mediasock recv', family: 'mediasock' },
];

const relays: Engine[] = [
  { key: 'c-relay-1', label: 'C relay ×1', family: 'c' },
  { key: 'cli-relay-1', label: 'mediasock relay ×1', family: 'mediasock' },
  { key: 'c-relay-4', label: 'C relay ×4', family: 'c' },
  { key: 'cli-relay-4', label: 'mediasock relay ×4', family: 'mediasock' },
];

const senders: Engine[] = [
  { key: 'c-gso', label: 'C GSO', family: 'c' },
  { key: 'batch-gso', label: 'batch GSO', family: 'mediasock' },
  { key: 'c-sendmmsg', label: 'C sendmmsg', family: 'c' },
  { key: 'batch-mmsg', label: 'batch sendmmsg', family: 'mediasock' },
  { key: 'node', label: 'node engine', family: 'mediasock' },
  { key: 'dgram', label: 'node:dgram', family: 'dgram' },
];

/** Per family: the colour of the first size's bar, then lighter ones for the next sizes. */
const colours: Record<Family, string[]> = {
  c: ['#6b6b6b', '#a9a9a9', '#d0d0d0'],
  mediasock: ['#1f62a8', '#6fa3d8', '#b5d0ec'],
  dgram: ['#c8641a', '#eda468', '#f6cfa9'],
};

const font = "font-family='system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif'";
const width = 1000;
const margin = 24;
const gap = 32;
const panelWidth = (width - 2 * margin - gap) / 2;
const labelWidth = 130;
const valueWidth = 118;
const barHeight = 13;
const barGap = 2;
const rowGap = 10;

function escape(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function text(
  x: number,
  y: number,
  content: string,
  attrs: {
    size?: number;
    anchor?: 'start' | 'middle' | 'end';
    fill?: string;
    weight?: number;
  } = {},
): string {
  const { size = 12, anchor = 'start', fill = '#222', weight = 400 } = attrs;
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" text-anchor="${anchor}" fill="${fill}" font-weight="${weight}">${escape(content)}</text>`;
}

/** 1234567 -> "1.23M", 916000 -> "916k". */
export function formatRate(pps: number): string {
  if (!Number.isFinite(pps)) return 'n/a';
  if (pps >= 1e6) return `${(pps / 1e6).toFixed(2)}M`;
  if (pps >= 1e3) return `${Math.round(pps / 1e3)}k`;
  return String(Math.round(pps));
}

function find(rows: readonly BenchRow[], key: string, size: number): BenchRow | undefined {
  return rows.find((r) => r.case === key && r.size === size);
}

interface Panel {
  title: string;
  subtitle: string;
  engines: Engine[];
  rows: readonly BenchRow[];
  value: (row: BenchRow) => number;
  label: (row: BenchRow) => string;
}

function panelHeight(p: Panel, sizes: number): number {
  const rowHeight = sizes * barHeight + (sizes - 1) * barGap;
  return 44 + p.engines.length * (rowHeight + rowGap);
}

function drawPanel(p: Panel, x: number, y: number, sizes: readonly number[]): string {
  const out: string[] = [];
  out.push(text(x, y + 14, p.title, { size: 14, weight: 600 }));
  out.push(text(x, y + 30, p.subtitle, { size: 11, fill: '#666' }));
  const barsX = x + labelWidth;
  const barsWidth = panelWidth - labelWidth - valueWidth;
  const values = p.engines.flatMap((e) =>
    sizes.map((s) => {
      const row = find(p.rows, e.key, s);
      return row === undefined ? 0 : p.value(row);
    }),
  );
  const max = Math.max(...values.filter(Number.isFinite), Number.MIN_VALUE);
  const rowHeight = sizes.length * barHeight + (sizes.length - 1) * barGap;
  let rowY = y + 44;
  for (const e of p.engines) {
    out.push(
      text(barsX - 8, rowY + rowHeight / 2 + 4, e.label, {
        anchor: 'end',
        fill: e.family === 'mediasock' ? '#13406e' : '#333',
        weight: e.family === 'mediasock' ? 600 : 400,
      }),
    );
    sizes.forEach((s, i) => {
      const row = find(p.rows, e.key, s);
      const by = rowY + i * (barHeight + barGap);
      if (row === undefined) {
        out.push(text(barsX + 2, by + barHeight - 3, 'not measured', { size: 10, fill: '#999' }));
        return;
      }
      const v = p.value(row);
      const w = Number.isFinite(v) && v > 0 ? Math.max(1, (v / max) * barsWidth) : 0;
      const fill = colours[e.family][Math.min(i, 2)]!;
      out.push(
        `<rect x="${barsX}" y="${by.toFixed(1)}" width="${w.toFixed(1)}" height="${barHeight}" fill="${fill}"><title>${escape(`${e.label}, ${s} B: ${p.label(row)}`)}</title></rect>`,
      );
      out.push(text(barsX + w + 5, by + barHeight - 3, p.label(row), { size: 11, fill: '#333' }));
    });
    rowY += rowHeight + rowGap;
  }
  return out.join('\n');
}

/** The whole chart as an SVG document. */
export function renderBenchChart(input: BenchChartInput): string {
  const { rxRows, txRows, sizes, caption } = input;
  const relayRows = input.relayRows ?? [];
  const rxCpu: Panel = {
    title: 'Receivers: CPU per datagram',
    subtitle: 'µs of CPU per datagram received, lower is better',
    engines: receivers,
    rows: rxRows,
    value: (r) => r.rx_cpu_us as number,
    label: (r) => `${(r.rx_cpu_us as number).toFixed(2)} µs`,
  };
  const rxRate: Panel = {
    title: 'Receivers: datagrams received per second',
    subtitle: 'fed by the same C GSO sender, higher is better; loss = sent but not received',
    engines: receivers,
    rows: rxRows,
    value: (r) => r.rx_pps as number,
    label: (r) => {
      const loss = r.loss_pct as number;
      return `${formatRate(r.rx_pps as number)}/s${loss >= 0.5 ? `, loss ${Math.round(loss)} %` : ''}`;
    },
  };
  const txRate: Panel = {
    title: 'Senders: datagrams sent per second',
    subtitle: 'into the C recvmmsg receiver, higher is better',
    engines: senders,
    rows: txRows,
    value: (r) => r.tx_pps as number,
    label: (r) => `${formatRate(r.tx_pps as number)}/s`,
  };
  const txCpu: Panel = {
    title: 'Senders: CPU per datagram',
    subtitle: "µs per datagram sent (includes the kernel's loopback receive work)",
    engines: senders,
    rows: txRows,
    value: (r) => r.tx_cpu_us as number,
    label: (r) => `${(r.tx_cpu_us as number).toFixed(2)} µs`,
  };

  const relayCpu: Panel = {
    title: 'Relays: CPU per datagram',
    subtitle: 'µs per datagram received and sent to 1 or 4 outputs, lower is better',
    engines: relays,
    rows: relayRows,
    value: (r) => r.rx_cpu_us as number,
    label: (r) => `${(r.rx_cpu_us as number).toFixed(2)} µs`,
  };
  const relayRate: Panel = {
    title: 'Relays: datagrams relayed per second',
    subtitle: 'fed by the same C GSO sender, higher is better; loss at the relay input',
    engines: relays,
    rows: relayRows,
    value: (r) => r.rx_pps as number,
    label: (r) => {
      const loss = r.loss_pct as number;
      return `${formatRate(r.rx_pps as number)}/s${loss >= 0.5 ? `, loss ${Math.round(loss)} %` : ''}`;
    },
  };
  const withRelays = relayRows.length > 0;

  const captionLines = caption.slice(0, 2);
  const shift = 16 * (captionLines.length - 1);
  const top = 96 + shift;
  const rxHeight = Math.max(panelHeight(rxCpu, sizes.length), panelHeight(rxRate, sizes.length));
  const txHeight = Math.max(panelHeight(txRate, sizes.length), panelHeight(txCpu, sizes.length));
  const relayHeight = withRelays
    ? 18 + Math.max(panelHeight(relayCpu, sizes.length), panelHeight(relayRate, sizes.length))
    : 0;
  const height = top + rxHeight + 18 + txHeight + relayHeight + margin;
  const right = margin + panelWidth + gap;

  const legend: string[] = [];
  let lx = margin;
  const ly = 74 + shift;
  const swatch = (fill: string, label: string): void => {
    legend.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${fill}"/>`);
    legend.push(text(lx + 17, ly, label, { size: 12 }));
    lx += 17 + label.length * 6.6 + 16;
  };
  swatch(colours.c[0]!, 'C baseline');
  swatch(colours.mediasock[0]!, 'mediasock');
  swatch(colours.dgram[0]!, 'raw node:dgram');
  legend.push(
    text(lx + 8, ly, `bars per row, dark to light: ${sizes.map((s) => `${s} B`).join(', ')}`, {
      size: 12,
      fill: '#555',
    }),
  );

  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${font}>
<title>mediasock bench: UDP datagram engines on loopback</title>
<rect width="100%" height="100%" fill="#ffffff"/>
${text(margin, 30, 'mediasock bench: UDP datagram engines on loopback (127.0.0.1)', { size: 18, weight: 700 })}
${captionLines.map((line, i) => text(margin, 50 + 16 * i, line, { size: 12, fill: '#555' })).join('\n')}
${legend.join('\n')}
${drawPanel(rxCpu, margin, top, sizes)}
${drawPanel(rxRate, right, top, sizes)}
${drawPanel(txRate, margin, top + rxHeight + 18, sizes)}
${drawPanel(txCpu, right, top + rxHeight + 18, sizes)}
${withRelays ? drawPanel(relayCpu, margin, top + rxHeight + 18 + txHeight + 18, sizes) : ''}
${withRelays ? drawPanel(relayRate, right, top + rxHeight + 18 + txHeight + 18, sizes) : ''}
</svg>
`;
}
