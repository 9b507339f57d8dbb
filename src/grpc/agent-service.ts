/**
 * AgentService.Connect: remote agents over one bidi stream each. This registry
 * owns each connection's agent (remote-agent.ts), its resume token, its
 * pending results and its grace; agent_management and the engine hold only its
 * session id. A Register with the resume token inside the grace attaches the new
 * stream to the agent's tasks. Credits: the engine never gives an agent more
 * than its max_concurrency tasks at once.
 */
import { randomBytes } from 'node:crypto';
import { parseNewAgent, type Task } from '../domain/index.js';
import { HubError, errorMessage } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { Hive } from '../../actors/hive/hive.js';
import type { AgentManagementMsg, AgentView } from '../../actors/agent-management/messages.js';
import type { Sessions } from '../engine/sessions.js';
import { text } from './convert.js';
import { RemoteAgent, type Stream } from './remote-agent.js';
import { principalOf } from './auth.js';
import { isMalformed, malformedError } from './malformed.js';

export interface AgentServiceDeps {
  hive: Hive;
  log: Logger;
  graceMs: number;
  pingMs: number;
  maxUnsentBytes: number;
  /** Where the engine finds each agent's dispatcher (by session id). */
  sessions: Sessions;
}

/** One Connect call: the agent it registered (once Registered is sent), and whether it is over. */
interface Call {
  stream: Stream;
  agent: RemoteAgent | undefined;
  registering: boolean;
  over: boolean;
}

/** The principal that opened the stream, as an agent's owner ("anonymous" without security). */
function ownerOf(stream: Stream): string {
  const p = principalOf(stream);
  return p === undefined || p.kind === 'anonymous' ? 'anonymous' : `${p.kind}:${p.id}`;
}

export class RemoteAgents {
  private readonly byToken = new Map<string, RemoteAgent>();
  private readonly byId = new Map<string, RemoteAgent>();

  constructor(private readonly d: AgentServiceDeps) {}

  info(agentId: string): { connected_since: string; labels: Record<string, string> } | undefined {
    const a = this.byId.get(agentId);
    return a === undefined
      ? undefined
      : { connected_since: a.stream === undefined ? '' : a.connectedSince, labels: a.labels };
  }

  private tell(msg: AgentManagementMsg, agentId: string): void {
    try {
      this.d.hive.tell(this.d.hive.modules.agent_management, msg);
    } catch (err) {
      this.d.log.warn({ err, agent_id: agentId }, `could not tell agent_management ${msg.type} of a remote agent`);
    }
  }

  private get agents() {
    return this.d.hive.to(this.d.hive.modules.agent_management);
  }

  /**
   * A new session of an agent (same name, same principal, no resume token) ends the
   * old one still in its grace: the old session's tasks are requeued at once and the
   * new one takes over the agent's record (agent_management decides).
   */
  private endFormerSession(name: string, owner: string): void {
    for (const a of this.byId.values()) {
      if (a.name !== name || a.owner !== owner || a.stream !== undefined) continue;
      a.endGrace();
      this.forget(a);
      this.tell({ type: 'agent.detach', id: a.id, reason: `agent ${a.name} connected again as a new session` }, a.id);
    }
  }

  /** A session that ended for good: its token, its id and its dispatcher are gone. */
  private forget(a: RemoteAgent): void {
    this.byToken.delete(a.token);
    this.byId.delete(a.id);
    this.d.sessions.delete(a.session);
  }

  /** The Connect handler. */
  connect(stream: Stream): void {
    const call: Call = { stream, agent: undefined, registering: false, over: false };
    const ping = setInterval(() => stream.write({ ping: { sent_at_ms: Date.now() } }), this.d.pingMs);
    ping.unref();
    stream.on('data', (m: Record<string, unknown>) => this.onMessage(call, m));
    const gone = (clean: boolean): void => {
      clearInterval(ping);
      this.onGone(call, clean);
    };
    // A cancelled or broken call ends its reading side too: only an end after Drain is the agent saying it is gone.
    stream.on('end', () => {
      gone(call.agent?.draining === true);
      stream.end();
    });
    stream.on('error', () => gone(false));
    stream.on('cancelled', () => gone(false));
  }

  private onMessage(call: Call, m: Record<string, unknown>): void {
    const reject = (status: number, code: string, message: string): void => {
      call.stream.write({ rejected: { status, code, message, task_id: '' } });
    };
    if (isMalformed(m)) return reject(3, 'VALIDATION_FAILED', malformedError(m).message);
    const kind = m['msg'];
    const agent = call.agent;
    if (agent === undefined) {
      if (kind !== 'register' || call.registering)
        return reject(
          9,
          'INVALID_STATE',
          call.registering ? 'wait for Registered before sending more' : 'the first message must be Register',
        );
      call.registering = true;
      this.register(call.stream, m['register'] as Record<string, unknown>).then(
        (a) => {
          call.agent = a;
          call.registering = false;
        },
        (err: unknown) => {
          call.registering = false;
          const e = err instanceof HubError ? err : new HubError('INTERNAL', errorMessage(err));
          reject(e.grpcStatus, e.code, e.message);
        },
      );
      return;
    }
    switch (kind) {
      case 'register':
        return reject(
          9,
          'INVALID_STATE',
          `this stream already registered agent ${agent.id}; a second Register is refused`,
        );
      case 'result':
        return agent.result(m['result'] as Record<string, unknown>);
      case 'results':
        for (const r of (m['results'] as { results?: Array<Record<string, unknown>> }).results ?? []) agent.result(r);
        return;
      case 'drain':
        agent.draining = true;
        void this.agents('agent.set_paused', { id: agent.id, paused: true }).catch(() => undefined);
        if (agent.inFlight === 0) call.stream.write({ drained: {} });
        return;
      case 'progress':
        return agent.progress(m['progress'] as Record<string, unknown>);
      case 'spawn':
        return agent.spawn(m['spawn'] as Record<string, unknown>);
      case 'heartbeat':
        return;
      default:
        return reject(
          3,
          'VALIDATION_FAILED',
          'msg: expected register, heartbeat, progress, result, results, drain or spawn',
        );
    }
  }

  /**
   * The stream is over. Ended by the agent after Drain (it declared itself gone): its
   * tasks go to other agents at once. Broken (killed, network, cut by the hub): it
   * gets no new task, and its running ones wait the grace for a resume.
   */
  private onGone(call: Call, clean: boolean): void {
    const a = call.agent;
    if (call.over || a === undefined || (a.stream !== call.stream && a.stream !== undefined)) return;
    call.over = true;
    const expire = (reason: string): void => {
      this.forget(a);
      this.tell({ type: 'agent.detach', id: a.id, reason }, a.id);
    };
    if (clean) {
      a.detach(0, () => expire(`remote agent ${a.name} ended its stream`));
      this.d.log.info(
        { event: 'agent.disconnected', agent_id: a.id, clean: true },
        `remote agent ${a.name} ended its stream; its tasks go to other agents`,
      );
      return;
    }
    this.tell({ type: 'agent.disconnected', id: a.id }, a.id);
    const graceMs = this.d.graceMs;
    a.detach(graceMs, () => expire(`remote agent ${a.name} disconnected and did not resume within ${graceMs} ms`));
    this.d.log.info(
      { event: 'agent.disconnected', agent_id: a.id, grace_ms: graceMs },
      `remote agent ${a.name} disconnected; it gets no new task, and its running ones are kept for ${graceMs} ms`,
    );
  }

  private async register(stream: Stream, r: Record<string, unknown> | undefined): Promise<RemoteAgent> {
    if (r === undefined) throw new HubError('VALIDATION_FAILED', 'register: missing');
    const token = text(r['resume_token']);
    if (token === '') return this.registerNew(stream, r);
    const previous = this.byToken.get(token);
    if (previous === undefined)
      throw new HubError('NOT_FOUND', 'resume_token: unknown or expired; register without it to start a new agent', {
        details: { field: 'resume_token' },
      });
    return this.resume(stream, previous, r);
  }

  /** A Register with a known resume token: the new stream takes over the agent's tasks. */
  private async resume(stream: Stream, previous: RemoteAgent, r: Record<string, unknown>): Promise<RemoteAgent> {
    await this.agents('agent.attach', { id: previous.id, session: previous.session });
    stream.write({
      registered: { agent_id: previous.id, resume_token: previous.token, grace_ms: this.d.graceMs, resumed: true },
    });
    if (r['redeliver'] === true) {
      const running = new Set(((r['running_task_ids'] as string[] | undefined) ?? []).map((id) => id.toLowerCase()));
      const n = previous.redeliver(running);
      if (n > 0)
        this.d.log.info(
          { event: 'agent.redelivered', agent_id: previous.id, tasks: n },
          `remote agent ${previous.name} resumed; ${n} task(s) it no longer ran sent again`,
        );
    }
    previous.attach(stream);
    return previous;
  }

  private async registerNew(stream: Stream, r: Record<string, unknown>): Promise<RemoteAgent> {
    const owner = ownerOf(stream);
    const parsed = { ...parseNewAgent(registerBody(r)), kind: 'remote' as const, executor: null, owner };
    this.endFormerSession(parsed.name, owner);
    const newToken = randomBytes(24).toString('base64url');
    // Made before the agent is stored: tasks the runner hands it at once wait in its outbox until Registered is sent.
    const labels = (r['labels'] as Record<string, string> | undefined) ?? {};
    const agent = new RemoteAgent(newToken, labels, this.d.maxUnsentBytes, owner);
    this.d.sessions.add(agent.session, agent.dispatcher);
    let view: AgentView;
    try {
      view = await this.agents('agent.register', { agent: parsed, session: agent.session });
    } catch (err) {
      this.d.sessions.delete(agent.session); // refused (a limit, a bad name): nothing holds it
      throw err;
    }
    agent.id = view.id;
    agent.name = view.name;
    this.byToken.set(newToken, agent);
    this.byId.set(agent.id, agent);
    stream.write({
      registered: { agent_id: agent.id, resume_token: newToken, grace_ms: this.d.graceMs, resumed: false },
    });
    agent.attach(stream);
    return agent;
  }
}

/** A Register message as the body of a new agent (validated by parseNewAgent). */
function registerBody(r: Record<string, unknown>): Record<string, unknown> {
  const capabilities = ((r['capabilities'] as Array<{ name: string; proficiency: number }> | undefined) ?? []).map(
    (c) => ({ name: c.name, proficiency: c.proficiency }),
  );
  const body: Record<string, unknown> = {
    name: r['name'],
    capabilities,
    max_concurrency: Number(r['max_concurrency'] ?? 0) || 1,
  };
  if (r['type'] !== '' && r['type'] !== undefined) body['type'] = r['type'];
  return body;
}

export type { Task };
