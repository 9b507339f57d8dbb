/** Probes a peer with grpc.health.v1 Check on its gRPC port; one channel per peer address, reused. */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';

type HealthClient = grpc.Client & {
  Check: (
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
  ) => void;
};

let Health: grpc.ServiceClientConstructor | undefined;

export class Prober {
  private readonly clients = new Map<string, HealthClient>();

  constructor(private readonly timeoutMs: number) {}

  /** True when the node at address:port answers SERVING within the timeout. */
  probe(address: string, port: number): Promise<boolean> {
    const target = `${address.includes(':') ? `[${address}]` : address}:${port}`;
    let c = this.clients.get(target);
    if (c === undefined) {
      Health ??= (
        grpc.loadPackageDefinition(
          protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String }),
        ) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }
      ).grpc.health.v1.Health;
      c = new Health(target, grpc.credentials.createInsecure()) as unknown as HealthClient;
      this.clients.set(target, c);
    }
    const client = c;
    return new Promise((resolve) => {
      client.Check({ service: '' }, { deadline: Date.now() + this.timeoutMs }, (err, res) =>
        resolve(err === null && res?.status === 'SERVING'),
      );
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
