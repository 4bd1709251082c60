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
}

const JOB_COLUMNS: &str =
    "id, connection_id, kind, object_id, state, attempts, run_after, last_error";

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

    /// Claims the next due job (or one whose lease expired) for `lease`.
    pub async fn claim_job(&self, lease: Duration) -> StoreResult<Option<Job>> {
        let now = Utc::now();
        // PostgreSQL: SKIP LOCKED lets several service instances claim at once
        // without taking the same row. SQLite has one writer at a time, so the
        // sub-select and the update are already atomic.
        let lock = match self.engine {
            Engine::Postgres => "FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until = $1, updated_at = $2 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE (state = 'queued' AND run_after <= $2) OR (state = 'running' AND lease_until < $2) \
                         ORDER BY run_after, id LIMIT 1 {lock}) \
             RETURNING {JOB_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(stamp(now + lease))
            .bind(stamp(now))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| job_from_row(&row)).transpose()
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
    })
}
