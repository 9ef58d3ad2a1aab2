//! Sessions shared by several replicas in Redis (redis-rs).
//!
//! A session is a hash `alo:s:{id}` (`user`, `created`, `last`, `idle`, `abs`) whose key
//! TTL is its expiry, and a string `alo:u:{id}` naming its user, kept
//! [`ATTRIBUTION_GRACE_MS`] past the session's end for the audit trail. Every read and
//! write is one Lua script, so it is atomic: a keepalive cannot revive a session that a
//! `DELETE` on another replica ended a moment before (the hash is gone and nothing
//! recreates it), and an extension only moves `last` forward.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

use super::{Session, SessionId, SessionStore, StoreError, ATTRIBUTION_GRACE_MS};
use crate::clock::Ms;

/// Longest a request waits for Redis before it is refused with `503`.
const ANSWER_WITHIN: Duration = Duration::from_millis(1000);

/// The live session, ending it (hash gone, owner kept for the grace) when it expired.
const LIVE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'user', 'created', 'last', 'idle', 'abs')
if not v[1] then return false end
local now = tonumber(ARGV[1])
local exp = math.min(tonumber(v[3]) + tonumber(v[4]), tonumber(v[2]) + tonumber(v[5]))
if now >= exp then
  redis.call('DEL', KEYS[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return false
end
";

static GET: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{LIVE}\nreturn v")));

static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{LIVE}
if tonumber(ARGV[3]) > tonumber(v[3]) then
  v[3] = ARGV[3]
  redis.call('HSET', KEYS[1], 'last', v[3])
end
exp = math.min(tonumber(v[3]) + tonumber(v[4]), tonumber(v[2]) + tonumber(v[5]))
redis.call('PEXPIRE', KEYS[1], exp - now)
redis.call('PEXPIRE', KEYS[2], exp - now + tonumber(ARGV[2]))
return v"
    ))
});

static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('session id in use') end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'last', ARGV[2], 'idle', ARGV[3], 'abs', ARGV[4])
local ttl = math.min(tonumber(ARGV[3]), tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl + tonumber(ARGV[5]))
if KEYS[3] and redis.call('DEL', KEYS[3]) == 1 then
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
return 1",
    )
});

static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  return 1
end
return 0",
    )
});

#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
}

fn session_key(id: &SessionId) -> String {
    format!("alo:s:{}", id.as_str())
}

fn owner_key(id: &SessionId) -> String {
    format!("alo:u:{}", id.as_str())
}

fn unavailable(e: RedisError) -> StoreError {
    // The error's text may quote the command; it never holds an id (keys are not quoted).
    StoreError::Unavailable(format!("redis: {}", redis_kind(&e)))
}

/// Bounds every Redis call: a store that does not answer is a store that is down.
async fn bounded<T>(f: impl Future<Output = Result<T, RedisError>>) -> Result<T, StoreError> {
    match tokio::time::timeout(ANSWER_WITHIN, f).await {
        Ok(r) => r.map_err(unavailable),
        Err(_) => Err(StoreError::Unavailable(
            "redis: no answer within 1 s".into(),
        )),
    }
}

/// `[user, created, last, idle, abs]` as the scripts return them, or nil.
fn decode(v: Value) -> Result<Option<Session>, StoreError> {
    let fields = match v {
        Value::Nil => return Ok(None),
        Value::Array(fields) => fields,
        other => {
            return Err(StoreError::Corrupt(format!(
                "expected a session, got {}",
                kind(&other)
            )))
        }
    };
    let text = |i: usize| -> Result<String, StoreError> {
        match fields.get(i) {
            Some(Value::BulkString(b)) => String::from_utf8(b.clone())
                .map_err(|_| StoreError::Corrupt("session field is not UTF-8".into())),
            _ => Err(StoreError::Corrupt(format!("session field {i} missing"))),
        }
    };
    let num = |i: usize| -> Result<Ms, StoreError> {
        text(i)?
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("session field {i} is not an integer")))
    };
    if fields.len() != 5 {
        return Err(StoreError::Corrupt(format!(
            "session has {} fields",
            fields.len()
        )));
    }
    Ok(Some(Session {
        user: text(0)?,
        created_at: num(1)?,
        last_activity: num(2)?,
        idle_ms: num(3)?,
        absolute_ms: num(4)?,
    }))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Int(_) => "an integer",
        Value::SimpleString(_) | Value::BulkString(_) => "a string",
        _ => "another type",
    }
}

impl RedisStore {
    /// Connects and checks that Redis answers.
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("bad Redis URL: {}", redis_kind(&e))))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ANSWER_WITHIN))
            .set_response_timeout(Some(ANSWER_WITHIN))
            .set_number_of_retries(1);
        let conn = bounded(ConnectionManager::new_with_config(client, config)).await?;
        let store = RedisStore { conn };
        store.ping().await?;
        Ok(store)
    }
}

impl SessionStore for RedisStore {
    async fn create(
        &self,
        id: &SessionId,
        session: &Session,
        previous: Option<&SessionId>,
        _now: Ms,
    ) -> Result<(), StoreError> {
        let mut call = CREATE.key(session_key(id));
        call.key(owner_key(id));
        if let Some(prev) = previous {
            call.key(session_key(prev)).key(owner_key(prev));
        }
        call.arg(&session.user)
            .arg(session.created_at)
            .arg(session.idle_ms)
            .arg(session.absolute_ms)
            .arg(ATTRIBUTION_GRACE_MS);
        let mut conn = self.conn.clone();
        let _: Value = bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn get(&self, id: &SessionId, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut call = GET.key(session_key(id));
        call.key(owner_key(id)).arg(now).arg(ATTRIBUTION_GRACE_MS);
        let mut conn = self.conn.clone();
        decode(bounded(call.invoke_async(&mut conn)).await?)
    }

    async fn touch(&self, id: &SessionId, at: Ms, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut call = TOUCH.key(session_key(id));
        call.key(owner_key(id))
            .arg(now)
            .arg(ATTRIBUTION_GRACE_MS)
            .arg(at.min(now));
        let mut conn = self.conn.clone();
        decode(bounded(call.invoke_async(&mut conn)).await?)
    }

    async fn end(&self, id: &SessionId, _now: Ms) -> Result<bool, StoreError> {
        let mut call = END.key(session_key(id));
        call.key(owner_key(id)).arg(ATTRIBUTION_GRACE_MS);
        let mut conn = self.conn.clone();
        let ended: i64 = bounded(call.invoke_async(&mut conn)).await?;
        Ok(ended == 1)
    }

    async fn owner(&self, id: &SessionId, _now: Ms) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        bounded(redis::cmd("GET").arg(owner_key(id)).query_async(&mut conn)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pong: String = bounded(redis::cmd("PING").query_async(&mut conn)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(StoreError::Corrupt("PING not answered with PONG".into()))
        }
    }
}

/// What went wrong, without the error's text (which may quote a URL with its password).
fn redis_kind(e: &RedisError) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connection_refusal() {
        "connection refused".into()
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection lost".into()
    } else {
        format!("{:?}", e.kind())
    }
}
