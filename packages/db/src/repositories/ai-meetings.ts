import type { Queryable } from '../pool.js';
import { assertAllInWorkspace, assertWorkspaceId } from './scope.js';

/** extract-meeting-intent's tables: meeting_requests (unique per source message), meeting_slots, meeting_availability. */

export async function findMeetingRequest(db: Queryable, workspaceId: string, sourceMessageId: string): Promise<{ id: string; confidence: number } | undefined> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ id: string; confidence: string }>(
    'SELECT id, confidence FROM meeting_requests WHERE workspace_id = $1 AND source_message_id = $2',
    [workspaceId, sourceMessageId],
  );
  return rows[0] ? { id: rows[0].id, confidence: Number(rows[0].confidence) } : undefined;
}

export interface MeetingRequestInput {
  readonly sourceMessageId: string;
  readonly leadId?: string;
  readonly threadId?: string;
  readonly confidence: number;
  readonly intentType: string;
  readonly proposedTimes: ReadonlyArray<{ start: string; end: string | null }>;
  readonly durationMinutes: number;
  readonly timezone: string | null;
  readonly metadata: Record<string, unknown>;
  readonly slots: ReadonlyArray<{ startsAt: Date; endsAt: Date }>;
}

/** Inserts the request and its proposed slots; a request stored before for the message is returned as is. */
export async function insertMeetingRequest(db: Queryable, workspaceId: string, input: MeetingRequestInput): Promise<{ id: string; created: boolean }> {
  assertWorkspaceId(workspaceId);
  if (input.leadId) await assertAllInWorkspace(db, 'leads', workspaceId, [input.leadId]);
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO meeting_requests (workspace_id, source_message_id, lead_id, thread_id, status, confidence, intent_type,
                                   proposed_times, duration_minutes, timezone, metadata)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (source_message_id) DO NOTHING
     RETURNING id`,
    [
      workspaceId,
      input.sourceMessageId,
      input.leadId ?? null,
      input.threadId ?? null,
      input.slots.length > 0 ? 'proposed' : 'detected',
      input.confidence,
      input.intentType,
      JSON.stringify(input.proposedTimes),
      input.durationMinutes,
      input.timezone,
      JSON.stringify(input.metadata),
    ],
  );
  const id = rows[0]?.id;
  if (!id) {
    const existing = await findMeetingRequest(db, workspaceId, input.sourceMessageId);
    if (!existing) throw new Error(`meeting request for message ${input.sourceMessageId} belongs to another workspace`);
    return { id: existing.id, created: false };
  }
  if (input.slots.length > 0) {
    await db.query(
      `INSERT INTO meeting_slots (workspace_id, meeting_request_id, starts_at, ends_at)
       SELECT $1, $2, s."startsAt", s."endsAt" FROM jsonb_to_recordset($3::jsonb) AS s("startsAt" timestamptz, "endsAt" timestamptz)`,
      [workspaceId, id, JSON.stringify(input.slots)],
    );
  }
  return { id, created: true };
}

export interface AvailabilityWindow {
  readonly userId: string;
  /** 0 = Sunday */
  readonly dayOfWeek: number;
  /** `HH:MM:SS` */
  readonly startTime: string;
  readonly endTime: string;
  readonly timezone: string;
  readonly bufferMinutes: number;
}

/** The workspace's active weekly availability (every member who set one). */
export async function listMeetingAvailability(db: Queryable, workspaceId: string): Promise<AvailabilityWindow[]> {
  assertWorkspaceId(workspaceId);
  const { rows } = await db.query<{ user_id: string; day_of_week: number; start_time: string; end_time: string; timezone: string; buffer_minutes: number }>(
    `SELECT user_id, day_of_week, start_time::text, end_time::text, timezone, buffer_minutes FROM meeting_availability
     WHERE workspace_id = $1 AND is_active ORDER BY user_id, day_of_week, start_time`,
    [workspaceId],
  );
  return rows.map((r) => ({
    userId: r.user_id,
    dayOfWeek: r.day_of_week,
    startTime: r.start_time,
    endTime: r.end_time,
    timezone: r.timezone,
    bufferMinutes: r.buffer_minutes,
  }));
}
