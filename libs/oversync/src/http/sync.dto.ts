import {
  CONNECT_RESOLUTIONS,
  PUSH_SESSION_STATUSES,
  ROW_OPS,
  SERVICE_LIFECYCLES,
  type Bundle,
  type BundleLimits,
  type BundleRow,
  type CapabilitiesResponse,
  type CapabilityFeatures,
  type CommittedBundleRowsResponse,
  type ConnectRequest,
  type ConnectResolution,
  type ConnectResponse,
  type ErrorBody,
  type JsonObject,
  type PullResponse,
  type PushChunkRequest,
  type PushChunkResponse,
  type PushCommitResponse,
  type PushRequestRow,
  type PushSessionCreateRequest,
  type PushSessionStatus,
  type RegisteredTableSpec,
  type RowOp,
  type ServiceHealth,
  type ServiceLifecycle,
  type StatusResponse,
  type StatusSummaryResponse,
  type WireKey,
} from '@oversync/protocol';
import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';

// Documentation of the wire bodies. Binding itself follows Go encoding/json rules (request-binding.ts),
// which class-validator cannot express (int64 literals only, case-insensitive member names).
// int64 members are documented as `integer`/`int64`: the module reads and writes them exactly.
// Each DTO `implements` the protocol's wire type of its body (a union such as the push-session answer cannot be).

const int64 = { type: 'integer', format: 'int64' } as const;

export class ErrorResponseDto implements ErrorBody {
  @ApiProperty({
    example: 'push_session_not_found',
    description: 'machine-readable code; clients must accept codes they do not know',
  })
  error: string;
  @ApiProperty({ example: 'push session 3a0df608-4dc2-44bb-b5fd-7f569180cbde was not found' }) message: string;
}

export class ConnectRequestDto implements ConnectRequest {
  @ApiPropertyOptional({
    example: true,
    description: 'whether the device holds local rows that were never synced (missing = false)',
  })
  has_local_pending_rows?: boolean;
}

export class ConnectResponseDto implements ConnectResponse {
  @ApiProperty({ enum: CONNECT_RESOLUTIONS, example: 'initialize_empty' }) resolution: ConnectResolution;
  @ApiPropertyOptional({ format: 'uuid', description: 'only with initialize_local: send it with the seed push' })
  initialization_id?: string;
  @ApiPropertyOptional({ example: '2026-03-22T12:15:00.329620Z', description: 'with initialize_local and retry_later' })
  lease_expires_at?: string;
  @ApiPropertyOptional({ ...int64, minimum: 1, description: 'only with retry_later' }) retry_after_seconds?: number;
}

export class CreatePushSessionRequestDto implements PushSessionCreateRequest {
  @ApiProperty({ ...int64, example: 7, description: 'per-source contiguous counter, > 0' }) source_bundle_id: bigint;
  @ApiProperty({ ...int64, example: 2, description: 'rows the session will stage, > 0' }) planned_row_count: bigint;
  @ApiPropertyOptional({ description: 'required while the scope is initializing (from connect)' })
  initialization_id?: string;
}

export class CreatePushSessionResponseDto {
  @ApiProperty({ enum: PUSH_SESSION_STATUSES }) status: PushSessionStatus;
  @ApiPropertyOptional({ format: 'uuid', description: 'with status staging' }) push_id?: string;
  @ApiPropertyOptional({ ...int64, description: 'with status staging' }) planned_row_count?: bigint;
  @ApiPropertyOptional({
    ...int64,
    description: 'with status already_committed: the committed bundle of this (source, source_bundle_id)',
  })
  bundle_seq?: bigint;
  @ApiPropertyOptional({ description: 'with status already_committed' }) source_id?: string;
  @ApiPropertyOptional({ ...int64, description: 'with status already_committed' }) source_bundle_id?: bigint;
  @ApiPropertyOptional({ ...int64, description: 'with status already_committed' }) row_count?: bigint;
  @ApiPropertyOptional({ description: 'with status already_committed: hex SHA-256 of the canonical bundle' })
  bundle_hash?: string;
}

export class PushRowDto implements PushRequestRow {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'users' }) table: string;
  @ApiProperty({
    example: { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b' },
    description: 'one member: the sync key column and its text',
  })
  key: WireKey;
  @ApiProperty({ enum: ROW_OPS }) op: RowOp;
  @ApiProperty({ ...int64, example: 0, description: '0 for rows the device never saw' }) base_row_version: bigint;
  @ApiPropertyOptional({ example: { name: 'Ada Lovelace' }, description: 'absent for DELETE' }) payload?: JsonObject;
}

export class PushChunkRequestDto implements PushChunkRequest {
  @ApiProperty({ ...int64, example: 0 }) start_row_ordinal: bigint;
  @ApiProperty({ type: [PushRowDto] }) rows: PushRowDto[];
}

export class PushChunkResponseDto implements PushChunkResponse {
  @ApiProperty({ format: 'uuid' }) push_id: string;
  @ApiProperty({ ...int64, example: 2 }) next_expected_row_ordinal: bigint;
}

export class CommittedBundleDto implements PushCommitResponse {
  @ApiProperty({ ...int64, example: 12 }) bundle_seq: bigint;
  @ApiProperty({ example: 'device-1' }) source_id: string;
  @ApiProperty({ ...int64, example: 7 }) source_bundle_id: bigint;
  @ApiProperty({ ...int64, example: 2 }) row_count: bigint;
  @ApiProperty({ example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }) bundle_hash: string;
}

export class BundleRowDto implements BundleRow {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'posts' }) table: string;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d' } }) key: WireKey;
  @ApiProperty({ enum: ROW_OPS }) op: RowOp;
  @ApiProperty({ ...int64, description: "the bundle's bundle_seq" }) row_version: bigint;
  @ApiPropertyOptional({
    example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d', title: 'Hello' },
    description: 'absent for DELETE',
  })
  payload?: JsonObject;
}

export class CommittedBundleRowsResponseDto extends CommittedBundleDto implements CommittedBundleRowsResponse {
  @ApiProperty({ type: [BundleRowDto] }) rows: BundleRowDto[];
  @ApiProperty({ ...int64, description: 'after_row_ordinal + rows.length' }) next_row_ordinal: bigint;
  @ApiProperty() has_more: boolean;
}

export class PulledBundleDto implements Bundle {
  @ApiProperty({ ...int64 }) bundle_seq: bigint;
  @ApiProperty() source_id: string;
  @ApiProperty({ ...int64 }) source_bundle_id: bigint;
  @ApiPropertyOptional({ ...int64 }) row_count?: bigint;
  @ApiPropertyOptional() bundle_hash?: string;
  @ApiProperty({ type: [BundleRowDto] }) rows: BundleRowDto[];
}

export class PullResponseDto implements PullResponse {
  @ApiProperty({
    ...int64,
    description: 'the sequence this pull is consistent up to; pass it as target_bundle_seq while has_more',
  })
  stable_bundle_seq: bigint;
  @ApiProperty({ type: [PulledBundleDto] }) bundles: PulledBundleDto[];
  @ApiProperty() has_more: boolean;
}

export class RegisteredTableSpecDto implements RegisteredTableSpec {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'users' }) table: string;
  @ApiPropertyOptional({ type: [String], example: ['id'] }) sync_key_columns?: string[];
}

export class CapabilitiesResponseDto implements CapabilitiesResponse {
  @ApiProperty({ example: 'v1' }) protocol_version: string;
  @ApiProperty({ ...int64, example: 1 }) schema_version: number;
  @ApiPropertyOptional() app_name?: string;
  @ApiPropertyOptional({ type: [String], example: ['business.posts', 'business.users'] }) registered_tables?: string[];
  @ApiPropertyOptional({ type: [RegisteredTableSpecDto] }) registered_table_specs?: RegisteredTableSpecDto[];
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'boolean' },
    example: { bundle_pull: true, bundle_change_watch: true },
  })
  features: CapabilityFeatures;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { max_bundles_per_pull: 5000, max_rows_per_push_chunk: 1000 },
  })
  bundle_limits: BundleLimits;
}

export class StatusResponseDto implements StatusSummaryResponse, Partial<StatusResponse> {
  @ApiProperty({ enum: ['healthy', 'unhealthy'] }) status: ServiceHealth;
  @ApiProperty({ example: 'v1' }) version: string;
  @ApiProperty({ enum: SERVICE_LIFECYCLES }) lifecycle: ServiceLifecycle;
  @ApiProperty() accepting_operations: boolean;
  @ApiPropertyOptional({ description: 'the members below only when the host sets exposeStatusDetails' })
  app_name?: string;
  @ApiPropertyOptional({ ...int64 }) inflight_operations?: number;
  @ApiPropertyOptional({ type: [String] }) registered_tables?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'boolean' } }) features?: CapabilityFeatures;
  @ApiPropertyOptional({ ...int64 }) user_state_retention_floor_ahead_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) latest_bundle_seq_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_floor_min?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_floor_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_window_min?: bigint;
  @ApiPropertyOptional({ ...int64 }) retained_bundle_window_max?: bigint;
  @ApiPropertyOptional({ ...int64 }) history_pruned_error_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) accepted_push_replay_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) rejected_registered_write_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) committed_bundle_count?: bigint;
  @ApiPropertyOptional({ ...int64 }) committed_bundle_bytes?: bigint;
}
