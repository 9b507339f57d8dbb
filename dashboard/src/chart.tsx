/** A time-series chart (uPlot): x in seconds since the epoch, one line per series; resizes with its box. */
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface Series {
  label: string;
  color: string;
  values: ReadonlyArray<number | null>;
}

export function Chart(props: {
  title: string;
  times: readonly number[];
  series: readonly Series[];
  unit: string;
}): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const labels = props.series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current;
    if (el === null) return undefined;
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height: 160,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: 'currentColor' },
        { stroke: 'currentColor', size: 70, values: (_u, v) => v.map((n) => `${n}${props.unit}`) },
      ],
      series: [
        {},
        ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: false } })),
      ],
    };
    plot.current = new uPlot(opts, [[], ...props.series.map(() => [])] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height: 160 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [labels, props.unit]);
  useEffect(() => {
    plot.current?.setData([props.times as number[], ...props.series.map((s) => s.values as Array<number | null>)]);
  });
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={props.title} />
    </figure>
  );
}
