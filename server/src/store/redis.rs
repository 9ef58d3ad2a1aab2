//! Sessions shared by several replicas in Redis (redis-rs).
//!
//! A session is a hash `alo:s:{id}` (`user`, `created`, `last`, `idle`, `abs`, `absdl`,
//! `eid`) whose key TTL is its expiry, and a string `alo:u:{id}` naming its user, kept for
//! the session's absolute period past its end for the audit trail. Every read and write
//! is one Lua script, so it is atomic: a keepalive cannot revive a session that a
//! `DELETE` on another replica ended a moment before (the hash is gone and nothing
//! recreates it), and an extension only moves `last` forward.
//!
//! The sweeper's part: `alo:exp` holds every session not ended by a `DELETE` or a
//! rotation, scored by its `expiresAt` (moved by each keepalive), as the member
//! `id \n absolute deadline \n event \n user`. A claim moves the expired ones, in one
//! script, to `alo:claims` (`expiresAt \n absolute deadline \n event \n user`, scored by
//! the end of the claim's lease) and deletes their hashes; `settle` removes them once
//! their records are durable. A replica that stops holding claims leaves them to be
//! taken over when the lease ends. Ending (`DELETE`, rotation) and claiming are scripts
//! on the same keys, so a session gets either a `logout` or a `timeout`, never both.
//!
//! A sign-in in progress (OIDC's `state`, `nonce`, verifier) is a string `alo:p:{key}`
//! with its own TTL, read and deleted at once by `GETDEL`: single use across replicas.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

use super::{Expired, Session, SessionId, SessionStore, StoreError, CLAIM_LEASE_MS};
use crate::clock::Ms;

/// Longest a request waits for Redis before it is refused with `503`.
const ANSWER_WITHIN: Duration = Duration::from_millis(1000);

const EXPIRING: &str = "alo:exp";
const CLAIMS: &str = "alo:claims";
const SESSION_PREFIX: &str = "alo:s:";

/// The session's fields (`v`), ending it when it expired: the hash goes, its owner key
/// and its `alo:exp` entry stay (the sweeper records the timeout).
const LIVE: &str = r"
local v = redis.call('HMGET', KEYS[1], 'user', 'created', 'last', 'idle', 'abs', 'absdl', 'eid', 'prev')
if not v[1] then return false end
local now = tonumber(ARGV[1])
local exp = math.min(tonumber(v[3]) + tonumber(v[4]), tonumber(v[2]) + tonumber(v[5]))
if now >= exp then
  redis.call('DEL', KEYS[1])
  return false
end
";

/// Ends the live session of `skey` (a `DELETE` or a rotation): 1, or 0 when there is
/// none or it already expired (then its timeout stands: it stays in `alo:exp`).
const FINISH: &str = r"
local function finish(skey, okey, id, now)
  local v = redis.call('HMGET', skey, 'user', 'created', 'last', 'idle', 'abs', 'absdl', 'eid')
  if not v[1] then return 0 end
  local exp = math.min(tonumber(v[3]) + tonumber(v[4]), tonumber(v[2]) + tonumber(v[5]))
  if now >= exp then return 0 end
  redis.call('DEL', skey)
  redis.call('PEXPIRE', okey, v[5])
  if v[7] then
    redis.call('ZREM', 'alo:exp', id .. '\n' .. v[6] .. '\n' .. v[7] .. '\n' .. v[1])
  end
  return 1
end
";

static GET: LazyLock<Script> = LazyLock::new(|| Script::new(&format!("{LIVE}\nreturn v")));

static TOUCH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{LIVE}
if tonumber(ARGV[2]) > tonumber(v[3]) then
  v[3] = ARGV[2]
  redis.call('HSET', KEYS[1], 'last', v[3])
end
exp = math.min(tonumber(v[3]) + tonumber(v[4]), tonumber(v[2]) + tonumber(v[5]))
redis.call('PEXPIRE', KEYS[1], exp - now)
redis.call('PEXPIRE', KEYS[2], exp - now + tonumber(v[5]))
if v[7] then
  redis.call('ZADD', '{EXPIRING}', 'XX', exp, ARGV[3] .. '\n' .. v[6] .. '\n' .. v[7] .. '\n' .. v[1])
end
return v"
    ))
});

static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{FINISH}
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('session id in use') end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'created', ARGV[2], 'last', ARGV[2], 'idle', ARGV[3],
  'abs', ARGV[4], 'absdl', ARGV[5], 'eid', ARGV[6])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'prev', ARGV[8]) end
local ttl = math.min(tonumber(ARGV[3]), tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl + tonumber(ARGV[4]))
redis.call('ZADD', '{EXPIRING}', tonumber(ARGV[2]) + ttl,
  ARGV[7] .. '\n' .. ARGV[5] .. '\n' .. ARGV[6] .. '\n' .. ARGV[1])
if KEYS[3] then finish(KEYS[3], KEYS[4], ARGV[9], tonumber(ARGV[2])) end
return 1"
    ))
});

static END: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{FINISH}\nreturn finish(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[2]))"
    ))
});

/// Takes over claims whose lease ended, then claims expired sessions (ending them).
static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"
local now = tonumber(ARGV[1])
local max = tonumber(ARGV[3])
local out = {{}}
for _, c in ipairs(redis.call('ZRANGEBYSCORE', '{CLAIMS}', '-inf', now, 'LIMIT', 0, max)) do
  redis.call('ZADD', '{CLAIMS}', ARGV[2], c)
  out[#out + 1] = c
end
if #out < max then
  local due = redis.call('ZRANGEBYSCORE', '{EXPIRING}', '-inf', now, 'WITHSCORES', 'LIMIT', 0, max - #out)
  for i = 1, #due, 2 do
    local m = due[i]
    local id = string.match(m, '^[^\n]*')
    redis.call('ZREM', '{EXPIRING}', m)
    redis.call('DEL', '{SESSION_PREFIX}' .. id)
    local c = due[i + 1] .. '\n' .. string.sub(m, #id + 2)
    redis.call('ZADD', '{CLAIMS}', ARGV[2], c)
    out[#out + 1] = c
  end
end
return out"
    ))
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

fn remembered_key(token: &SessionId) -> String {
    format!("alo:e:{}", token.as_str())
}

fn stash_key(key: &SessionId) -> String {
    format!("alo:p:{}", key.as_str())
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

/// `[user, created, last, idle, abs, absdl, eid, prev]` as the scripts return them, or nil.
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
    if fields.len() != 8 {
        return Err(StoreError::Corrupt(format!(
            "session has {} fields",
            fields.len()
        )));
    }
    // A session stored by a release before the sweeper has no event token.
    let event = match fields.get(6) {
        Some(Value::Nil) => String::new(),
        _ => text(6)?,
    };
    Ok(Some(Session {
        user: text(0)?,
        created_at: num(1)?,
        last_activity: num(2)?,
        idle_ms: num(3)?,
        absolute_ms: num(4)?,
        event,
        previous_user: match fields.get(7) {
            Some(Value::Nil) | None => None,
            _ => Some(text(7)?),
        },
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
            .arg(session.absolute_deadline())
            .arg(&session.event)
            .arg(id.as_str())
            .arg(session.previous_user.as_deref().unwrap_or(""));
        if let Some(prev) = previous {
            call.arg(prev.as_str());
        }
        let mut conn = self.conn.clone();
        let _: Value = bounded(call.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn get(&self, id: &SessionId, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut call = GET.key(session_key(id));
        call.key(owner_key(id)).arg(now);
        let mut conn = self.conn.clone();
        decode(bounded(call.invoke_async(&mut conn)).await?)
    }

    async fn touch(&self, id: &SessionId, at: Ms, now: Ms) -> Result<Option<Session>, StoreError> {
        let mut call = TOUCH.key(session_key(id));
        call.key(owner_key(id))
            .arg(now)
            .arg(at.min(now))
            .arg(id.as_str());
        let mut conn = self.conn.clone();
        decode(bounded(call.invoke_async(&mut conn)).await?)
    }

    async fn end(&self, id: &SessionId, now: Ms) -> Result<bool, StoreError> {
        let mut call = END.key(session_key(id));
        call.key(owner_key(id)).arg(id.as_str()).arg(now);
        let mut conn = self.conn.clone();
        let ended: i64 = bounded(call.invoke_async(&mut conn)).await?;
        Ok(ended == 1)
    }

    async fn owner(&self, id: &SessionId, _now: Ms) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        bounded(redis::cmd("GET").arg(owner_key(id)).query_async(&mut conn)).await
    }

    async fn remember(
        &self,
        token: &SessionId,
        user: &str,
        for_ms: Ms,
        _now: Ms,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut set = redis::cmd("SET");
        set.arg(remembered_key(token))
            .arg(user)
            .arg("PX")
            .arg(for_ms.max(1));
        bounded(set.query_async::<()>(&mut conn)).await
    }

    async fn remembered(&self, token: &SessionId, _now: Ms) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut get = redis::cmd("GET");
        get.arg(remembered_key(token));
        bounded(get.query_async(&mut conn)).await
    }

    async fn stash(
        &self,
        key: &SessionId,
        value: &str,
        for_ms: Ms,
        _now: Ms,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut set = redis::cmd("SET");
        set.arg(stash_key(key))
            .arg(value)
            .arg("PX")
            .arg(for_ms.max(1));
        bounded(set.query_async::<()>(&mut conn)).await
    }

    /// `GETDEL` (Redis 6.2+): read and delete in one step.
    async fn take(&self, key: &SessionId, _now: Ms) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        let mut getdel = redis::cmd("GETDEL");
        getdel.arg(stash_key(key));
        bounded(getdel.query_async(&mut conn)).await
    }

    async fn claim_expired(&self, now: Ms, max: usize) -> Result<Vec<Expired>, StoreError> {
        let mut call = CLAIM.prepare_invoke();
        call.arg(now)
            .arg(now.saturating_add(CLAIM_LEASE_MS))
            .arg(max.max(1));
        let mut conn = self.conn.clone();
        let claims: Vec<String> = bounded(call.invoke_async(&mut conn)).await?;
        claims.into_iter().map(|c| expired(&c)).collect()
    }

    async fn settle(&self, claims: &[Expired]) -> Result<(), StoreError> {
        if claims.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(CLAIMS);
        for c in claims {
            cmd.arg(&c.claim);
        }
        let mut conn = self.conn.clone();
        bounded(cmd.query_async::<()>(&mut conn)).await
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

/// A claim as `CLAIM` returns it: `expiresAt \n absolute deadline \n event \n user`.
fn expired(claim: &str) -> Result<Expired, StoreError> {
    let mut parts = claim.splitn(4, '\n');
    let mut next = || {
        parts
            .next()
            .ok_or_else(|| StoreError::Corrupt("claim has too few fields".into()))
    };
    let num = |s: &str| {
        s.parse::<Ms>()
            .map_err(|_| StoreError::Corrupt("claim field is not an integer".into()))
    };
    let expires_at = num(next()?)?;
    let absolute_deadline = num(next()?)?;
    let event = next()?.to_owned();
    let user = next()?.to_owned();
    Ok(Expired {
        user,
        expires_at,
        absolute: expires_at == absolute_deadline,
        event,
        claim: claim.to_owned(),
    })
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
