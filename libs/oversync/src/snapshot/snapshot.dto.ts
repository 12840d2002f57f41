import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import {
  SOURCE_REPLACEMENT_REASONS,
  type JsonObject,
  type SnapshotChunkResponse,
  type SnapshotRow,
  type SnapshotSessionCreateRequest,
  type SnapshotSessionCreateResponse,
  type SourceReplacement,
  type SourceReplacementReason,
  type WireKey,
} from '@oversync/protocol';

// Documentation of the snapshot wire bodies (each `implements` its protocol type); binding follows Go
// rules in snapshot-request.parser.ts.

const int64 = { type: 'integer', format: 'int64' } as const;

export class SourceReplacementDto implements SourceReplacement {
  @ApiProperty({ example: 'device-old', description: 'must equal the Oversync-Source-ID of the request' })
  previous_source_id: string;
  @ApiProperty({ example: 'device-new' }) new_source_id: string;
  @ApiProperty({ enum: SOURCE_REPLACEMENT_REASONS }) reason: SourceReplacementReason;
}

export class CreateSnapshotSessionRequestDto implements SnapshotSessionCreateRequest {
  @ApiPropertyOptional({ type: SourceReplacementDto, description: 'omit (or send no body) for a keep-source rebuild' })
  source_replacement?: SourceReplacementDto;
}

export class SnapshotSessionResponseDto implements SnapshotSessionCreateResponse {
  @ApiProperty({ example: '2b82db1c-bf30-4ce2-953e-48591ed30192' }) snapshot_id: string;
  @ApiProperty({ ...int64, example: 7 }) snapshot_bundle_seq: bigint;
  @ApiProperty({ ...int64, example: 2 }) row_count: bigint;
  @ApiPropertyOptional({ ...int64, example: 311, description: 'omitted for an empty snapshot' }) byte_count?: bigint;
  @ApiProperty({ example: '2026-03-22T12:15:00.329620Z' }) expires_at: string;
}

export class SnapshotRowDto implements SnapshotRow {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'posts' }) table: string;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d' } }) key: WireKey;
  @ApiProperty({ ...int64, example: 7 }) row_version: bigint;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d', title: 'Hello' } }) payload: JsonObject;
}

export class SnapshotChunkResponseDto implements SnapshotChunkResponse {
  @ApiProperty() snapshot_id: string;
  @ApiProperty({ ...int64 }) snapshot_bundle_seq: bigint;
  @ApiProperty({ type: [SnapshotRowDto] }) rows: SnapshotRowDto[];
  @ApiProperty({ ...int64, description: 'after_row_ordinal + rows.length' }) next_row_ordinal: bigint;
  @ApiProperty() has_more: boolean;
}
