/** Overview: hive status, the cluster's nodes, modules (restart, reset), throughput and queue charts, task time, lag and memory. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Chart } from '../chart';
import { ago, mb, ms, num, pct, rate } from '../format';
import { can } from '../grants';
import { useLive } from '../live';
import { Action, Badge, Card, ErrorBox, Head, Stat, useLoad } from '../ui';
import {
  appendSample,
  fromCurrent,
  fromRaw,
  rates,
  type CurrentMetrics,
  type RawSample,
  type Sample,
} from './overview-data';

interface Node {
  node_id: string;
  status: string;
  epoch?: number;
  heartbeat_at?: string;
  started_at?: string;
  reachable?: boolean;
  total_agents?: number;
  active_agents?: number;
  tasks_per_second?: number;
}

interface HiveStatus {
  hive_id: string;
  node_id: string;
  metrics: Record<string, number>;
  nodes: Node[];
}

interface ModuleRow {
  name: string;
  status: string;
  restarts: number;
  crashes: number;
  mailbox_depth: number;
  last_error: string | null;
}

function useOverview(): {
  hive: HiveStatus | undefined;
  current: CurrentMetrics | undefined;
  samples: Sample[];
  error: ReturnType<typeof useLoad>['error'];
} {
  const [hive, setHive] = useState<HiveStatus>();
  const [current, setCurrent] = useState<CurrentMetrics>();
  const [samples, setSamples] = useState<Sample[]>([]);
  const first = useLoad(async () => {
    const [h, m, hist] = await Promise.all([
      api.get<HiveStatus>('/api/hive/status'),
      api.get<{ current_metrics: CurrentMetrics }>('/metrics'),
      api.get<{ samples: RawSample[] }>('/metrics/history'),
    ]);
    setHive(h);
    setCurrent(m.current_metrics);
    setSamples(appendSample(hist.samples.map(fromRaw), fromCurrent(m.current_metrics, Date.now())));
  }, []);
  useLive(['hive.status'], (e) => setHive(e.data as unknown as HiveStatus));
  useLive(['metrics.update'], (e) => {
    const m = e.data as unknown as CurrentMetrics;
    setCurrent(m);
    setSamples((list) => appendSample(list, fromCurrent(m, Date.parse(e.timestamp) || Date.now())));
  });
  return { hive, current, samples, error: first.error };
}

function Numbers(props: { hive: HiveStatus; current: CurrentMetrics | undefined }): JSX.Element {
  const m = props.hive.metrics;
  const tm = props.current?.task_management;
  const sys = props.current?.system;
  return (
    <div class="stats">
      <Stat id="stat-pending" label="pending" value={num(m['pending_tasks'])} />
      <Stat id="stat-running" label="running" value={num(m['running_tasks'])} />
      <Stat id="stat-waiting" label="waiting" value={num(m['waiting_tasks'])} />
      <Stat id="stat-completed" label="completed" value={num(m['completed_tasks'])} />
      <Stat id="stat-failed" label="failed + dead" value={num((m['failed_tasks'] ?? 0) + (m['dead_tasks'] ?? 0))} />
      <Stat id="stat-tps" label="tasks/s (60 s)" value={rate(m['tasks_per_second'])} />
      <Stat id="stat-success" label="success rate" value={pct(m['success_rate'])} />
      <Stat id="stat-p50" label="task time p50" value={ms(tm?.p50_task_ms)} />
      <Stat id="stat-p99" label="task time p99" value={ms(tm?.p99_task_ms)} />
      <Stat
        id="stat-agents"
        label="agents (working / all)"
        value={`${num(m['active_agents'])} / ${num(m['total_agents'])}`}
      />
      <Stat
        id="stat-lag"
        label="event-loop lag"
        value={ms(sys?.event_loop_lag_ms)}
        hint={`p99 ${ms(sys?.event_loop_lag_p99_ms)}`}
      />
      <Stat
        id="stat-rss"
        label="memory (RSS)"
        value={mb(sys?.memory.rss_mb)}
        hint={`heap ${mb(sys?.memory.heap_used_mb)}`}
      />
    </div>
  );
}

function Nodes(props: { nodes: Node[] }): JSX.Element {
  return (
    <table>
      <Head cols={['node', 'status', 'epoch', 'heartbeat', 'agents (working / all)', 'tasks/s']} />
      <tbody>
        {props.nodes.map((n) => (
          <tr key={n.node_id}>
            <td>{n.node_id}</td>
            <td>
              <Badge value={n.status} />
              {n.reachable === false ? <span class="muted"> unreachable</span> : null}
            </td>
            <td>{num(n.epoch)}</td>
            <td>{ago(n.heartbeat_at ?? n.started_at)}</td>
            <td>
              {num(n.active_agents)} / {num(n.total_agents)}
            </td>
            <td>{rate(n.tasks_per_second)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Modules(): JSX.Element {
  const mods = useLoad(() => api.get<{ modules: ModuleRow[] }>('/api/modules'), []);
  useLive(['hive.status'], () => mods.reload());
  const write = can('modules.write');
  return (
    <Card title="Modules">
      <ErrorBox error={mods.error} />
      <table>
        <Head cols={['module', 'state', 'restarts', 'crashes', 'mailbox', 'last error', write ? 'actions' : null]} />
        <tbody>
          {(mods.data?.modules ?? []).map((m) => (
            <tr key={m.name} data-module={m.name}>
              <td>{m.name}</td>
              <td>
                <Badge value={m.status} />
              </td>
              <td data-testid={`restarts-${m.name}`}>{m.restarts}</td>
              <td>{m.crashes}</td>
              <td>{m.mailbox_depth}</td>
              <td class="wrap">{m.last_error ?? '–'}</td>
              {write ? (
                <td>
                  <Action
                    label="Restart"
                    run={() => api.post(`/api/modules/${m.name}/restart`)}
                    done={mods.reload}
                    confirm={`Restart ${m.name}?`}
                  />
                  <Action label="Reset" run={() => api.post(`/api/modules/${m.name}/reset`)} done={mods.reload} />
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </Card>
  );
}

function Charts(props: { samples: Sample[] }): JSX.Element {
  const s = props.samples;
  const times = s.map((x) => x.t);
  return (
    <div class="charts">
      <Chart
        title="Throughput (per second)"
        unit=""
        times={times}
        series={[
          { label: 'submitted', color: '#2563eb', values: rates(s, 'submitted') },
          { label: 'completed', color: '#16a34a', values: rates(s, 'completed') },
          { label: 'failed', color: '#dc2626', values: rates(s, 'failed') },
        ]}
      />
      <Chart
        title="Queue depth (pending)"
        unit=""
        times={times}
        series={[{ label: 'pending', color: '#9333ea', values: s.map((x) => x.queue_depth) }]}
      />
      <Chart
        title="Event-loop lag"
        unit=" ms"
        times={times}
        series={[{ label: 'lag', color: '#ea580c', values: s.map((x) => x.event_loop_lag_ms) }]}
      />
      <Chart
        title="Memory"
        unit=" MB"
        times={times}
        series={[
          { label: 'RSS', color: '#0891b2', values: s.map((x) => x.rss_mb) },
          { label: 'heap', color: '#65a30d', values: s.map((x) => x.heap_used_mb) },
        ]}
      />
    </div>
  );
}

export function Overview(): JSX.Element {
  const o = useOverview();
  return (
    <div>
      <h1>Overview {o.hive !== undefined ? <span class="muted small">{o.hive.hive_id}</span> : null}</h1>
      <ErrorBox error={o.error} />
      {o.hive === undefined ? <p class="muted">Loading…</p> : <Numbers hive={o.hive} current={o.current} />}
      <Card title="Last hour">
        <Charts samples={o.samples} />
      </Card>
      <Card title="Nodes">{o.hive === undefined ? null : <Nodes nodes={o.hive.nodes} />}</Card>
      <Modules />
    </div>
  );
}
