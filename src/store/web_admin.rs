//! The web UI's admin credential and sessions. The password is stored only as an Argon2 hash
//! (made by the caller), a session only as a digest of its cookie token: a copy of the
//! database lets no one in.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{parse_stamp, stamp, Store, StoreResult};

/// A logged-in browser's row.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSession {
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// The admin password's Argon2 hash (PHC string), when one was ever set.
    pub async fn admin_password_hash(&self) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM admin_credential WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("password_hash")).transpose()?)
    }

    /// Stores the first admin password hash; answers false (and changes nothing) when one is
    /// already there, so two processes starting at once keep one password.
    pub async fn insert_admin_password_hash(&self, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO admin_credential (id, password_hash, changed_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(hash)
        .bind(stamp(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces the admin password hash and revokes every session, in one transaction.
    pub async fn replace_admin_password_hash(&self, hash: &str) -> StoreResult<()> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO admin_credential (id, password_hash, changed_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash, changed_at = excluded.changed_at",
        )
        .bind(hash)
        .bind(stamp(Utc::now()))
        .execute(&mut *transaction)
        .await?;
        sqlx::query("DELETE FROM web_sessions")
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Records a new session (and forgets expired ones).
    pub async fn insert_web_session(
        &self,
        token_digest: &str,
        session: &WebSession,
    ) -> StoreResult<()> {
        let now = Utc::now();
        sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(stamp(now))
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO web_sessions (token_digest, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest)
        .bind(&session.csrf_token)
        .bind(stamp(now))
        .bind(stamp(session.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session with this token digest, when it exists and has not expired.
    pub async fn web_session(&self, token_digest: &str) -> StoreResult<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT csrf_token, expires_at FROM web_sessions WHERE token_digest = $1 AND expires_at > $2",
        )
        .bind(token_digest)
        .bind(stamp(Utc::now()))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| -> StoreResult<WebSession> {
            let expires_at: String = row.try_get("expires_at")?;
            Ok(WebSession {
                csrf_token: row.try_get("csrf_token")?,
                expires_at: parse_stamp(&expires_at)?,
            })
        })
        .transpose()
    }

    /// Ends one session (logout).
    pub async fn delete_web_session(&self, token_digest: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_digest = $1")
            .bind(token_digest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
