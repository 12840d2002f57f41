import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// Documentation of the wire bodies. Binding itself follows Go encoding/json rules (request-binding.ts),
// which class-validator cannot express (int64 literals only, case-insensitive member names).

export class ErrorResponseDto {
  @ApiProperty({ example: 'push_session_not_found' }) error: string;
  @ApiProperty({ example: 'push session 3a0df608-4dc2-44bb-b5fd-7f569180cbde was not found' }) message: string;
}

export class ConnectRequestDto {
  @ApiPropertyOptional({ example: true }) has_local_pending_rows?: boolean;
}

export class CreatePushSessionRequestDto {
  @ApiProperty({ example: 7, description: 'per-source contiguous counter, > 0' }) source_bundle_id: number;
  @ApiProperty({ example: 2, description: 'rows the session will stage, > 0' }) planned_row_count: number;
  @ApiPropertyOptional({ description: 'required while the scope is initializing' }) initialization_id?: string;
}

export class PushRowDto {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'users' }) table: string;
  @ApiProperty({ example: { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b' } }) key: Record<string, string>;
  @ApiProperty({ enum: ['INSERT', 'UPDATE', 'DELETE'] }) op: string;
  @ApiProperty({ example: 0 }) base_row_version: number;
  @ApiPropertyOptional({ example: { name: 'Ada Lovelace' }, description: 'absent for DELETE' }) payload?: Record<string, unknown>;
}

export class PushChunkRequestDto {
  @ApiProperty({ example: 0 }) start_row_ordinal: number;
  @ApiProperty({ type: [PushRowDto] }) rows: PushRowDto[];
}
