//! Connections: settings as JSON, credentials sealed with the secret key.

use chrono::Utc;
use sqlx::Row;

use super::{stamp, Store, StoreError, StoreResult};
use crate::connection::{Connection, Credentials};

/// A connection as stored: its database id and its settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredConnection {
    pub id: i64,
    pub connection: Connection,
}

impl Store {
    /// Stores a new connection. A duplicate name is refused with advice.
    pub async fn insert_connection(&self, connection: &Connection) -> StoreResult<i64> {
        let (settings, sealed) = self.serialize_connection(connection)?;
        let now = stamp(Utc::now());
        let row = sqlx::query(
            "INSERT INTO connections (name, settings, sealed_credentials, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(&connection.name)
        .bind(settings)
        .bind(sealed)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(|error| {
            StoreError::from_unique_violation(error, || {
                format!(
                    "a connection named `{}` already exists; pick another --name or use `connection edit`",
                    connection.name
                )
            })
        })?;
        Ok(row.try_get("id")?)
    }

    /// Replaces the settings of the connection with this name.
    pub async fn update_connection(&self, connection: &Connection) -> StoreResult<()> {
        let (settings, sealed) = self.serialize_connection(connection)?;
        let result = sqlx::query(
            "UPDATE connections SET settings = $1, sealed_credentials = $2, updated_at = $3 WHERE name = $4",
        )
        .bind(settings)
        .bind(sealed)
        .bind(stamp(Utc::now()))
        .bind(&connection.name)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(no_such_connection(&connection.name));
        }
        Ok(())
    }

    pub async fn connection(&self, name: &str) -> StoreResult<StoredConnection> {
        let row = sqlx::query(
            "SELECT id, name, settings, sealed_credentials FROM connections WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| no_such_connection(name))?;
        self.deserialize_connection(&row)
    }

    pub async fn connection_by_id(&self, id: i64) -> StoreResult<StoredConnection> {
        let row = sqlx::query(
            "SELECT id, name, settings, sealed_credentials FROM connections WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no connection has id {id}")))?;
        self.deserialize_connection(&row)
    }

    pub async fn connections(&self) -> StoreResult<Vec<StoredConnection>> {
        let rows = sqlx::query(
            "SELECT id, name, settings, sealed_credentials FROM connections ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| self.deserialize_connection(row))
            .collect()
    }

    /// Removes a connection and everything recorded for it (links, jobs, log).
    pub async fn delete_connection(&self, name: &str) -> StoreResult<()> {
        let result = sqlx::query("DELETE FROM connections WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(no_such_connection(name));
        }
        Ok(())
    }

    fn serialize_connection(&self, connection: &Connection) -> StoreResult<(String, String)> {
        let mut settings = serde_json::to_value(connection)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        if let Some(object) = settings.as_object_mut() {
            object.remove("credentials");
        }
        let credentials = serde_json::to_string(&connection.credentials)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        Ok((settings.to_string(), self.key.seal(&credentials)))
    }

    fn deserialize_connection(&self, row: &sqlx::any::AnyRow) -> StoreResult<StoredConnection> {
        let id: i64 = row.try_get("id")?;
        let settings: String = row.try_get("settings")?;
        let sealed: String = row.try_get("sealed_credentials")?;
        let plain = self.key.open(&sealed).map_err(|error| {
            let name: String = row.try_get("name").unwrap_or_else(|_| id.to_string());
            StoreError::Unreadable(format!("cannot read connection `{name}`: {error}"))
        })?;
        let credentials: Credentials = serde_json::from_str(&plain).map_err(|error| {
            StoreError::Corrupt(format!("connection {id} credentials: {error}"))
        })?;
        let mut value: serde_json::Value = serde_json::from_str(&settings)
            .map_err(|error| StoreError::Corrupt(format!("connection {id} settings: {error}")))?;
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "credentials".into(),
                serde_json::to_value(credentials)
                    .map_err(|error| StoreError::Corrupt(error.to_string()))?,
            );
        }
        let connection: Connection = serde_json::from_value(value)
            .map_err(|error| StoreError::Corrupt(format!("connection {id} settings: {error}")))?;
        Ok(StoredConnection { id, connection })
    }
}

fn no_such_connection(name: &str) -> StoreError {
    StoreError::NotFound(format!(
        "no connection is named `{name}`; `woocommerce-sync connection list` shows them"
    ))
}
