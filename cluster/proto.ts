/** Loads proto/cluster/v1/cluster.proto once (field names kept, longs as numbers, defaults filled). */
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { packageRoot } from '../src/config/index.js';

export const CLUSTER_PROTO_FILE = path.join(packageRoot(), 'proto', 'cluster', 'v1', 'cluster.proto');

export interface ClusterProto {
  service: grpc.ServiceDefinition;
  Client: grpc.ServiceClientConstructor;
}

let loaded: ClusterProto | undefined;

export function clusterProto(): ClusterProto {
  if (loaded !== undefined) return loaded;
  const def = protoLoader.loadSync(CLUSTER_PROTO_FILE, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    cluster: { v1: Record<string, grpc.ServiceClientConstructor> };
  };
  const Client = pkg.cluster.v1['ClusterService'];
  if (Client === undefined) throw new Error(`${CLUSTER_PROTO_FILE} lacks ClusterService`);
  loaded = { service: Client.service, Client };
  return loaded;
}
