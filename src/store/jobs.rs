//! The persisted job queue: one row per (connection, kind, object), so events
//! for the same object coalesce. A claimed job carries a lease; a crashed
//! worker's job becomes claimable again when the lease runs out.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use super::{parse_stamp, stamp, Engine, Store, StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> StoreResult<JobState> {
        Ok(match text {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            other => return Err(StoreError::Corrupt(format!("unknown job state `{other}`"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: i64,
    pub connection_id: i64,
    pub kind: String,
    pub object_id: String,
    pub state: JobState,
    /// Attempts started so far, this one included once claimed.
    pub attempts: i64,
    pub run_after: DateTime<Utc>,
    pub last_error: Option<String>,
    /// The instance ([`Store::instance`]) that claimed it last.
    pub claimed_by: Option<String>,
}

/// Which jobs a worker may claim: a one-shot command claims only its own connection's and kinds.
#[derive(Debug, Clone, Default)]
pub struct JobScope {
    /// `None`: every connection's.
    pub connection_id: Option<i64>,
    /// Empty: every kind.
    pub kinds: Vec<&'static str>,
}

const JOB_COLUMNS: &str =
    "id, connection_id, kind, object_id, state, attempts, run_after, last_error, claimed_by";

impl Store {
    /// Queues work on an object. An existing job for the same object is reused:
    /// a queued one stays (at the earlier time), a running one is marked to run
    /// again when it finishes, a finished or failed one is queued afresh.
    pub async fn enqueue_job(
        &self,
        connection_id: i64,
        kind: &str,
        object_id: &str,
        run_after: DateTime<Utc>,
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        sqlx::query(
            "INSERT INTO jobs (connection_id, kind, object_id, state, attempts, rerun, run_after, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, 0, $4, $5, $5) \
             ON CONFLICT (connection_id, kind, object_id) DO UPDATE SET \
               rerun = CASE WHEN jobs.state = 'running' THEN 1 ELSE 0 END, \
               attempts = CASE WHEN jobs.state IN ('done', 'failed') THEN 0 ELSE jobs.attempts END, \
               run_after = CASE WHEN jobs.state = 'queued' AND jobs.run_after < excluded.run_after \
                                THEN jobs.run_after ELSE excluded.run_after END, \
               state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'queued' END, \
               updated_at = excluded.updated_at",
        )
        .bind(connection_id)
        .bind(kind)
        .bind(object_id)
        .bind(stamp(run_after))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Queues another attempt at `at` after a failure (`reason` shows while it waits), unless
    /// the object's job is already queued sooner; a running job runs again when it finishes.
    pub async fn enqueue_retry(
        &self,
        connection_id: i64,
        kind: &str,
        object_id: &str,
        at: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        sqlx::query(
            "INSERT INTO jobs (connection_id, kind, object_id, state, attempts, rerun, run_after, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 1, 0, $4, $5, $6, $6) \
             ON CONFLICT (connection_id, kind, object_id) DO UPDATE SET \
               rerun = CASE WHEN jobs.state = 'running' THEN 1 ELSE 0 END, \
               run_after = CASE WHEN jobs.state = 'queued' AND jobs.run_after < excluded.run_after \
                                THEN jobs.run_after ELSE excluded.run_after END, \
               last_error = excluded.last_error, \
               state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'queued' END, \
               updated_at = excluded.updated_at",
        )
        .bind(connection_id)
        .bind(kind)
        .bind(object_id)
        .bind(stamp(at))
        .bind(reason)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Parks an object's job as failed with `reason`: it waits for someone to fix the cause and
    /// retry it (a job running now keeps running and decides for itself).
    pub async fn park_job(
        &self,
        connection_id: i64,
        kind: &str,
        object_id: &str,
        reason: &str,
    ) -> StoreResult<()> {
        let now = stamp(Utc::now());
        sqlx::query(
            "INSERT INTO jobs (connection_id, kind, object_id, state, attempts, rerun, run_after, last_error, created_at, updated_at) \
             VALUES ($1, $2, $3, 'failed', 1, 0, $5, $4, $5, $5) \
             ON CONFLICT (connection_id, kind, object_id) DO UPDATE SET \
               state = CASE WHEN jobs.state = 'running' THEN 'running' ELSE 'failed' END, \
               last_error = excluded.last_error, updated_at = excluded.updated_at",
        )
        .bind(connection_id)
        .bind(kind)
        .bind(object_id)
        .bind(reason)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the failures of these objects' jobs (parked, or waiting for a retry): the objects
    /// succeeded since. A running job is left to finish.
    pub async fn clear_failures(
        &self,
        connection_id: i64,
        kind: &str,
        object_ids: &[String],
    ) -> StoreResult<()> {
        for chunk in object_ids.chunks(100) {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|index| format!("${}", index + 4))
                .collect();
            let sql = format!(
                "UPDATE jobs SET state = 'done', last_error = NULL, attempts = 0, updated_at = $1 \
                 WHERE connection_id = $2 AND kind = $3 AND object_id IN ({}) \
                   AND (state = 'failed' OR (state = 'queued' AND last_error IS NOT NULL))",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql)
                .persistent(false)
                .bind(stamp(Utc::now()))
                .bind(connection_id)
                .bind(kind);
            for object in chunk {
                query = query.bind(object);
            }
            query.execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Claims the next due job in `scope` (or one whose lease expired) for `lease`.
    pub async fn claim_job(&self, lease: Duration, scope: &JobScope) -> StoreResult<Option<Job>> {
        let now = Utc::now();
        // PostgreSQL: SKIP LOCKED lets several service instances claim at once
        // without taking the same row. SQLite has one writer at a time, so the
        // sub-select and the update are already atomic.
        let lock = match self.engine {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let kinds = if scope.kinds.is_empty() {
            String::new()
        } else {
            let placeholders: Vec<String> = (0..scope.kinds.len())
                .map(|index| format!("${}", index + 5))
                .collect();
            format!("AND kind IN ({})", placeholders.join(", "))
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, updated_at = $2, claimed_by = $4 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE ((state = 'queued' AND run_after <= $2) OR (state = 'running' AND lease_until < $2)) \
                           AND ($3 IS NULL OR connection_id = $3) {kinds} \
                         ORDER BY run_after, id LIMIT 1 {lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        let mut query = sqlx::query(&sql)
            .bind(stamp(now + lease))
            .bind(stamp(now))
            .bind(scope.connection_id)
            .bind(self.instance());
        for kind in &scope.kinds {
            query = query.bind(*kind);
        }
        let row = query.fetch_optional(&self.pool).await?;
        row.map(|row| job_from_row(&row)).transpose()
    }

    /// Extends a running job's lease: its worker is alive and still at it.
    pub async fn renew_lease(&self, id: i64, lease: Duration) -> StoreResult<()> {
        let now = Utc::now();
        sqlx::query(
            "UPDATE jobs SET lease_until = $1, updated_at = $2 WHERE id = $3 AND state = 'running'",
        )
        .bind(stamp(now + lease))
        .bind(stamp(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Makes a connection's parked jobs and those waiting for a retry due now, attempts counted
    /// afresh; answers how many.
    pub async fn make_failed_due(&self, connection_id: i64) -> StoreResult<u64> {
        let now = stamp(Utc::now());
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_after = $1, attempts = 0, updated_at = $1 \
             WHERE connection_id = $2 AND (state = 'failed' OR (state = 'queued' AND last_error IS NOT NULL))",
        )
        .bind(now)
        .bind(connection_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// How many of a connection's jobs wait for a retry after a failure, and when the next is due.
    pub async fn waiting_retries(
        &self,
        connection_id: i64,
    ) -> StoreResult<(i64, Option<DateTime<Utc>>)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(run_after) AS next FROM jobs \
             WHERE connection_id = $1 AND state = 'queued' AND last_error IS NOT NULL",
        )
        .bind(connection_id)
        .fetch_one(&self.pool)
        .await?;
        let next: Option<String> = row.try_get("next")?;
        Ok((
            row.try_get("n")?,
            next.as_deref().map(parse_stamp).transpose()?,
        ))
    }

    /// The job's effect is recorded: it is done, unless new work for the same
    /// object arrived while it ran.
    pub async fn complete_job(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE jobs SET state = CASE WHEN rerun = 1 THEN 'queued' ELSE 'done' END, \
             attempts = CASE WHEN rerun = 1 THEN 0 ELSE attempts END, \
             rerun = 0, lease_until = NULL, last_error = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(stamp(Utc::now()))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The attempt failed: queue it again at `retry_at`, or park it as failed.
    pub async fn fail_job(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let now = Utc::now();
        let (state, run_after) = match retry_at {
            Some(at) => ("queued", at),
            None => ("failed", now),
        };
        sqlx::query(
            "UPDATE jobs SET state = CASE WHEN rerun = 1 THEN 'queued' ELSE $1 END, \
             run_after = $2, rerun = 0, lease_until = NULL, last_error = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(state)
        .bind(stamp(run_after))
        .bind(error)
        .bind(stamp(now))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn jobs_in_state(
        &self,
        connection_id: i64,
        state: JobState,
    ) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE connection_id = $1 AND state = $2 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(connection_id)
            .bind(state.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// How many of a connection's jobs are in `state`.
    pub async fn count_jobs(&self, connection_id: i64, state: JobState) -> StoreResult<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE connection_id = $1 AND state = $2")
                .bind(connection_id)
                .bind(state.as_str())
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// How many jobs are queued or running, over all connections.
    pub async fn pending_job_count(&self) -> StoreResult<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'running')")
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }
}

fn job_from_row(row: &sqlx::any::AnyRow) -> StoreResult<Job> {
    Ok(Job {
        id: row.try_get("id")?,
        connection_id: row.try_get("connection_id")?,
        kind: row.try_get("kind")?,
        object_id: row.try_get("object_id")?,
        state: JobState::parse(&row.try_get::<String, _>("state")?)?,
        attempts: row.try_get("attempts")?,
        run_after: parse_stamp(&row.try_get::<String, _>("run_after")?)?,
        last_error: row.try_get("last_error")?,
        claimed_by: row.try_get("claimed_by")?,
    })
}

impl Store {
    /// Every job of one kind for a connection, whatever its state (for order states).
    pub async fn jobs_of_kind(&self, connection_id: i64, kind: &str) -> StoreResult<Vec<Job>> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE connection_id = $1 AND kind = $2 ORDER BY id"
        );
        let rows = sqlx::query(&sql)
            .bind(connection_id)
            .bind(kind)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_from_row).collect()
    }
}
