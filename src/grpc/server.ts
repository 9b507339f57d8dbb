/**
 * The gRPC server on [grpc] port: HiveService, AgentService, grpc.health.v1 and
 * server reflection, with keepalive and message-size limits from config.
 */
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Sessions } from '../engine/sessions.js';
import type { HubConfig } from '../config/index.js';
import { HubError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { EventBus } from '../runtime/index.js';
import type { Hive } from '../../actors/hive/hive.js';
import { hiveProto } from './proto.js';
import { hiveServiceImplementation } from './hive-service.js';
import { RemoteAgents } from './agent-service.js';
import { guarded } from './auth.js';
import { tolerant } from './malformed.js';
import type { AuthService } from '../auth/service.js';

export interface GrpcDeps {
  config: HubConfig;
  hive: Hive;
  events: EventBus;
  log: Logger;
  /** Remote agents' sessions, shared with the task engine. */
  sessions: Sessions;
  /** Checks every RPC's permission (security enabled). */
  auth?: AuthService | undefined;
  /** More services on the same port (the cluster transport). */
  extraServices?: ReadonlyArray<{
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  }>;
}

export class GrpcServer {
  private constructor(
    private readonly server: grpc.Server,
    private readonly health: HealthImplementation,
    readonly port: number,
    readonly remoteAgents: RemoteAgents,
  ) {}

  static async start(host: string, d: GrpcDeps): Promise<GrpcServer> {
    const g = d.config.grpc;
    const proto = hiveProto();
    const server = new grpc.Server({
      'grpc.max_receive_message_length': g.max_message_bytes,
      'grpc.max_send_message_length': g.max_message_bytes,
      'grpc.keepalive_time_ms': g.keepalive_time_ms,
      'grpc.keepalive_timeout_ms': g.keepalive_timeout_ms,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const remoteAgents = addHubServices(server, d);
    for (const x of d.extraServices ?? []) server.addService(x.definition, x.implementation);
    const health = new HealthImplementation({
      '': 'SERVING',
      'hive.v1.HiveService': 'SERVING',
      'hive.v1.AgentService': 'SERVING',
    });
    health.addToServer(server);
    new ReflectionService(proto.packageDefinition).addToServer(server);
    const address = host.includes(':') ? `[${host}]:${g.port}` : `${host}:${g.port}`;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) =>
        err === null ? resolve(p) : reject(err),
      ),
    ).catch((err: unknown) => {
      throw new HubError(
        'STARTUP_FAILED',
        `gRPC port ${g.port} on ${host} cannot be bound (${err instanceof Error ? err.message : String(err)}); change [grpc] port (HIVE_GRPC_PORT) or set [grpc] enabled = false`,
      );
    });
    return new GrpcServer(server, health, port, remoteAgents);
  }

  /** Reports NOT_SERVING, then stops taking calls and waits for the open ones, at most graceMs. */
  async stop(graceMs: number): Promise<void> {
    this.health.setStatus('', 'NOT_SERVING');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** HiveService and AgentService, each behind the permission check; returns the remote-agent registry. */
function addHubServices(server: grpc.Server, d: GrpcDeps): RemoteAgents {
  const g = d.config.grpc;
  const proto = hiveProto();
  const remoteAgents = new RemoteAgents({
    hive: d.hive,
    log: d.log,
    graceMs: g.agent_grace_ms,
    pingMs: g.keepalive_time_ms,
    maxUnsentBytes: g.max_unsent_bytes,
    sessions: d.sessions,
  });
  server.addService(
    tolerant(proto.hiveService),
    guarded(
      'HiveService',
      hiveServiceImplementation({
        config: d.config,
        hive: d.hive,
        events: d.events,
        log: d.log,
        remoteInfo: (id) => remoteAgents.info(id),
      }),
      d.auth,
    ),
  );
  server.addService(
    tolerant(proto.agentService),
    guarded(
      'AgentService',
      {
        Connect: (stream: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>) =>
          remoteAgents.connect(stream),
      },
      d.auth,
    ),
  );
  return remoteAgents;
}
