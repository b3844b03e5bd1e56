// SPDX-License-Identifier: MIT
#include "coordinator/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

#define STMT_CACHE 48

struct coord_store {
	sqlite3 *db;
	bool durable; /* the open transaction commits with synchronous=FULL */
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
};

/*
 * Schema migrations: entry i takes user_version i to i + 1. Only ever
 * append; a released entry never changes.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE authkeys ("
	" id INTEGER PRIMARY KEY,"
	" hash BLOB NOT NULL UNIQUE,"
	" reusable INTEGER NOT NULL,"
	" ephemeral INTEGER NOT NULL,"
	" expires INTEGER NOT NULL," /* 0: never */
	" created INTEGER NOT NULL,"
	" used_by INTEGER,"
	" revoked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE nodes ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" node_key BLOB NOT NULL UNIQUE,"
	" name TEXT NOT NULL UNIQUE,"
	" cred_hash BLOB NOT NULL UNIQUE,"
	" slot INTEGER NOT NULL UNIQUE,"
	" ephemeral INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" last_seen INTEGER NOT NULL,"
	" authkey_id INTEGER NOT NULL);"
	/* every address slot ever handed out; node_id NULL once released */
	"CREATE TABLE slots ("
	" slot INTEGER PRIMARY KEY,"
	" node_id INTEGER UNIQUE,"
	" released INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE signals ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" from_id INTEGER NOT NULL,"
	" to_id INTEGER NOT NULL,"
	" msg_id TEXT NOT NULL,"
	" digest BLOB NOT NULL,"
	" payload BLOB," /* NULL once acknowledged */
	" created INTEGER NOT NULL,"
	" UNIQUE (from_id, msg_id));"
	"CREATE INDEX signals_to ON signals (to_id, seq);"
	"CREATE INDEX signals_created ON signals (created);"
	"INSERT INTO meta VALUES ('changes', '0');",
};

static sqlite3_stmt *stmt(struct coord_store *s, const char *sql)
{
	size_t i;

	for (i = 0; i < STMT_CACHE && s->cache[i].sql; i++) {
		if (s->cache[i].sql == sql) {
			sqlite3_reset(s->cache[i].st);
			sqlite3_clear_bindings(s->cache[i].st);
			return s->cache[i].st;
		}
	}
	if (i == STMT_CACHE) {
		log_error("coord", "statement cache full");
		return NULL;
	}
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
			       &s->cache[i].st, NULL) != SQLITE_OK) {
		log_error("coord", "sqlite prepare: %s", sqlite3_errmsg(s->db));
		return NULL;
	}
	s->cache[i].sql = sql;
	return s->cache[i].st;
}

static int exec(struct coord_store *s, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("coord", "sqlite: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

static int begin(struct coord_store *s)
{
	return exec(s, "BEGIN IMMEDIATE");
}

/* A transaction that must survive power loss too (see store.h). */
static int begin_durable(struct coord_store *s)
{
	int ret = exec(s, "PRAGMA synchronous = FULL");

	if (ret)
		return ret;
	s->durable = true;
	ret = begin(s);
	if (ret) {
		exec(s, "PRAGMA synchronous = NORMAL");
		s->durable = false;
	}
	return ret;
}

static void end_durable(struct coord_store *s)
{
	if (s->durable) {
		exec(s, "PRAGMA synchronous = NORMAL");
		s->durable = false;
	}
}

static int commit(struct coord_store *s)
{
	int ret = exec(s, "COMMIT");

	end_durable(s);
	return ret;
}

static void rollback(struct coord_store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	end_durable(s);
}

/* Step a statement that returns no row (or we ignore it). */
static int step_done(struct coord_store *s, sqlite3_stmt *st)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	log_error("coord", "sqlite step: %s", sqlite3_errmsg(s->db));
	return -EIO;
}

/* Run one query that yields a single integer (0 when no row). */
static int query_int(struct coord_store *s, sqlite3_stmt *st, int64_t *out)
{
	int rc;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		*out = 0;
		rc = 0;
	} else {
		log_error("coord", "sqlite step: %s", sqlite3_errmsg(s->db));
		rc = -EIO;
	}
	sqlite3_reset(st);
	return rc;
}

static int migrate(struct coord_store *s)
{
	int64_t ver;
	int ret;

	ret = query_int(s, stmt(s, "PRAGMA user_version"), &ver);
	if (ret)
		return ret;
	if (ver > (int64_t)(sizeof(migrations) / sizeof(migrations[0]))) {
		log_error("coord",
			  "database schema %" PRId64
			  " is newer than this program",
			  ver);
		return -EPROTO;
	}
	for (size_t v = (size_t)ver;
	     v < sizeof(migrations) / sizeof(migrations[0]); v++) {
		char sql[64];
		ret = begin(s);
		if (ret)
			return ret;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %zu", v + 1);
		ret = exec(s, migrations[v]);
		if (!ret)
			ret = exec(s, sql);
		if (!ret)
			ret = commit(s);
		if (ret) {
			rollback(s);
			return ret;
		}
		log_info("coord", "database schema migrated to %zu", v + 1);
	}
	return 0;
}

int coord_store_open(const char *path, bool create, struct coord_store **out)
{
	struct coord_store *s;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
	int ret;

	if (!create && access(path, F_OK) != 0)
		return -ENOENT;
	if (create)
		flags |= SQLITE_OPEN_CREATE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		log_error("coord", "cannot open %s: %s", path,
			  s->db ? sqlite3_errmsg(s->db) : "out of memory");
		ret = -EIO;
		goto err;
	}
	sqlite3_busy_timeout(s->db, 5000);
	ret = exec(s, "PRAGMA journal_mode = WAL;"
		      "PRAGMA synchronous = NORMAL;"
		      "PRAGMA foreign_keys = OFF;"
		      "PRAGMA secure_delete = ON;");
	if (ret)
		goto err;
	ret = migrate(s);
	if (ret)
		goto err;
	*out = s;
	return 0;
err:
	coord_store_close(s);
	return ret;
}

void coord_store_close(struct coord_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < STMT_CACHE && s->cache[i].sql; i++)
		sqlite3_finalize(s->cache[i].st);
	sqlite3_close(s->db);
	free(s);
}

/* ---------------------------------------------------------------- config */

int coord_config_set_v4(struct coord_config *cfg, const char *prefix)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(prefix, '/');
	struct in_addr a;
	char *end;
	long len;
	uint32_t base, mask;

	if (!slash || (size_t)(slash - prefix) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, prefix, (size_t)(slash - prefix));
	ip[slash - prefix] = '\0';
	len = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len < 8 || len > 24 ||
	    inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	base = ntohl(a.s_addr);
	mask = ~0u << (32 - len);
	if (base & ~mask)
		return -EINVAL;
	cfg->v4_base = base;
	cfg->v4_len = (uint8_t)len;
	snprintf(cfg->v4_str, sizeof(cfg->v4_str), "%s/%ld", ip, len);
	return 0;
}

int coord_config_set_v6(struct coord_config *cfg, const char *prefix)
{
	char ip[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
	const char *slash = strchr(prefix, '/');
	uint8_t a[16];

	if (!slash || strcmp(slash, "/48") != 0 ||
	    (size_t)(slash - prefix) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, prefix, (size_t)(slash - prefix));
	ip[slash - prefix] = '\0';
	if (inet_pton(AF_INET6, ip, a) != 1 || (a[0] & 0xfe) != 0xfc)
		return -EINVAL;
	for (int i = 6; i < 16; i++)
		if (a[i])
			return -EINVAL;
	memcpy(cfg->v6_prefix, a, 16);
	inet_ntop(AF_INET6, a, out, sizeof(out));
	snprintf(cfg->v6_str, sizeof(cfg->v6_str), "%s/48", out);
	return 0;
}

void coord_config_addr_v4(const struct coord_config *cfg, uint64_t slot,
			  char *buf, size_t len)
{
	struct in_addr a = { .s_addr = htonl(cfg->v4_base + (uint32_t)slot) };

	inet_ntop(AF_INET, &a, buf, (socklen_t)len);
}

void coord_config_addr_v6(const struct coord_config *cfg, uint64_t slot,
			  char *buf, size_t len)
{
	uint8_t a[16];

	memcpy(a, cfg->v6_prefix, 16);
	for (int i = 0; i < 8; i++)
		a[15 - i] = (uint8_t)(slot >> (8 * i));
	inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

/* Highest usable slot: all of the IPv4 prefix but network and broadcast. */
static uint64_t max_slot(const struct coord_config *cfg)
{
	return (1ULL << (32 - cfg->v4_len)) - 2;
}

static int meta_set(struct coord_store *s, const char *key, const char *val)
{
	sqlite3_stmt *st = stmt(s, "INSERT OR REPLACE INTO meta VALUES (?, ?)");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	return step_done(s, st);
}

/* Copy meta[key] into buf; -ENOENT if absent. */
static int meta_get(struct coord_store *s, const char *key, char *buf,
		    size_t len)
{
	sqlite3_stmt *st = stmt(s, "SELECT value FROM meta WHERE key = ?");
	int rc, ret = -ENOENT;

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);
		ret = (v && strlen(v) < len) ? 0 : -EIO;
		if (!ret)
			strcpy(buf, v);
	} else if (rc != SQLITE_DONE) {
		ret = -EIO;
	}
	sqlite3_reset(st);
	return ret;
}

static void join_list(char *buf, size_t len,
		      const char list[][COORD_SERVER_STRLEN], unsigned n)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "," : "", list[i]);
}

static int split_list(const char *s, char list[][COORD_SERVER_STRLEN],
		      unsigned *n)
{
	*n = 0;
	while (*s) {
		const char *comma = strchr(s, ',');
		size_t l = comma ? (size_t)(comma - s) : strlen(s);
		if (*n == COORD_MAX_SERVERS || l == 0 ||
		    l >= COORD_SERVER_STRLEN)
			return -EINVAL;
		memcpy(list[*n], s, l);
		list[*n][l] = '\0';
		(*n)++;
		s += l + (comma ? 1 : 0);
	}
	return 0;
}

int coord_store_config_init(struct coord_store *s,
			    const struct coord_config *cfg)
{
	char buf[COORD_MAX_SERVERS * COORD_SERVER_STRLEN + 8];
	char ttl[16];
	int ret;

	ret = begin_durable(s);
	if (ret)
		return ret;
	if (meta_get(s, "ipv4_prefix", buf, sizeof(buf)) == 0) {
		ret = -EEXIST;
		goto out;
	}
	snprintf(ttl, sizeof(ttl), "%u", cfg->turn_ttl_s);
	ret = meta_set(s, "ipv4_prefix", cfg->v4_str);
	if (!ret)
		ret = meta_set(s, "ipv6_prefix", cfg->v6_str);
	join_list(buf, sizeof(buf), cfg->stun, cfg->n_stun);
	if (!ret)
		ret = meta_set(s, "stun", buf);
	join_list(buf, sizeof(buf), cfg->turn, cfg->n_turn);
	if (!ret)
		ret = meta_set(s, "turn", buf);
	if (!ret)
		ret = meta_set(s, "turn_secret", cfg->turn_secret);
	if (!ret)
		ret = meta_set(s, "turn_ttl", ttl);
	if (!ret)
		ret = commit(s);
out:
	if (ret)
		rollback(s);
	return ret;
}

int coord_store_config_get(struct coord_store *s, struct coord_config *cfg)
{
	char buf[COORD_MAX_SERVERS * COORD_SERVER_STRLEN + 8];
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = meta_get(s, "ipv4_prefix", buf, sizeof(buf));
	if (ret)
		return ret;
	if (coord_config_set_v4(cfg, buf))
		return -EIO;
	if (meta_get(s, "ipv6_prefix", buf, sizeof(buf)) ||
	    coord_config_set_v6(cfg, buf))
		return -EIO;
	if (meta_get(s, "stun", buf, sizeof(buf)) ||
	    split_list(buf, cfg->stun, &cfg->n_stun))
		return -EIO;
	if (meta_get(s, "turn", buf, sizeof(buf)) ||
	    split_list(buf, cfg->turn, &cfg->n_turn))
		return -EIO;
	if (meta_get(s, "turn_secret", cfg->turn_secret,
		     sizeof(cfg->turn_secret)))
		return -EIO;
	if (meta_get(s, "turn_ttl", buf, sizeof(buf)))
		return -EIO;
	cfg->turn_ttl_s = (uint32_t)strtoul(buf, NULL, 10);
	if (cfg->turn_ttl_s < 60)
		cfg->turn_ttl_s = 86400;
	return 0;
}

/* ---------------------------------------------------------------- keys */

int coord_store_authkey_add(struct coord_store *s,
			    const uint8_t hash[COORD_HASH_LEN], bool reusable,
			    bool ephemeral, uint64_t expires, uint64_t now)
{
	sqlite3_stmt *st = stmt(
		s, "INSERT INTO authkeys (hash, reusable, ephemeral, expires,"
		   " created) VALUES (?, ?, ?, ?, ?)");
	int ret;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, COORD_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, reusable);
	sqlite3_bind_int(st, 3, ephemeral);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)expires);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
	ret = begin_durable(s);
	if (ret)
		return ret;
	ret = step_done(s, st);
	if (!ret)
		ret = commit(s);
	if (ret)
		rollback(s);
	return ret;
}

/* ---------------------------------------------------------------- nodes */

#define NODE_COLS \
	"id, node_key, name, slot, ephemeral, created, last_seen FROM nodes "

static void row_to_node(sqlite3_stmt *st, struct coord_node *n)
{
	const void *key = sqlite3_column_blob(st, 1);
	const char *name = (const char *)sqlite3_column_text(st, 2);

	memset(n, 0, sizeof(*n));
	n->id = (uint64_t)sqlite3_column_int64(st, 0);
	if (key && sqlite3_column_bytes(st, 1) == COORD_KEY_LEN)
		memcpy(n->key, key, COORD_KEY_LEN);
	if (name)
		snprintf(n->name, sizeof(n->name), "%s", name);
	n->slot = (uint64_t)sqlite3_column_int64(st, 3);
	n->ephemeral = sqlite3_column_int(st, 4) != 0;
	n->created = (uint64_t)sqlite3_column_int64(st, 5);
	n->last_seen = (uint64_t)sqlite3_column_int64(st, 6);
}

/* One node from a prepared, bound statement; -ENOENT when no row. */
static int fetch_node(struct coord_store *s, sqlite3_stmt *st,
		      struct coord_node *out)
{
	int rc, ret;

	if (!st)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_to_node(st, out);
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_reset(st);
	return ret;
}

int coord_store_node_by_cred(struct coord_store *s,
			     const uint8_t hash[COORD_HASH_LEN],
			     struct coord_node *out)
{
	sqlite3_stmt *st = stmt(s, "SELECT " NODE_COLS "WHERE cred_hash = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, COORD_HASH_LEN, SQLITE_STATIC);
	return fetch_node(s, st, out);
}

int coord_store_node_by_id(struct coord_store *s, uint64_t id,
			   struct coord_node *out)
{
	sqlite3_stmt *st = stmt(s, "SELECT " NODE_COLS "WHERE id = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	return fetch_node(s, st, out);
}

int coord_store_node_by_name(struct coord_store *s, const char *name,
			     struct coord_node *out)
{
	sqlite3_stmt *st = stmt(s, "SELECT " NODE_COLS "WHERE name = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	return fetch_node(s, st, out);
}

static int node_by_key(struct coord_store *s, const uint8_t key[32],
		       struct coord_node *out)
{
	sqlite3_stmt *st = stmt(s, "SELECT " NODE_COLS "WHERE node_key = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, key, COORD_KEY_LEN, SQLITE_STATIC);
	return fetch_node(s, st, out);
}

int coord_store_nodes_foreach(struct coord_store *s,
			      int (*cb)(const struct coord_node *, void *),
			      void *arg)
{
	sqlite3_stmt *st = stmt(s, "SELECT " NODE_COLS "ORDER BY id");
	struct coord_node n;
	int rc, ret = 0;

	if (!st)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_node(st, &n);
		ret = cb(&n, arg);
		if (ret)
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_reset(st);
	return ret;
}

static int bump_changes(struct coord_store *s)
{
	return step_done(s, stmt(s, "UPDATE meta SET value = "
				    "CAST(value AS INTEGER) + 1 "
				    "WHERE key = 'changes'"));
}

int coord_store_changes(struct coord_store *s, uint64_t *out)
{
	int64_t v;
	int ret = query_int(s,
			    stmt(s, "SELECT CAST(value AS INTEGER) FROM meta "
				    "WHERE key = 'changes'"),
			    &v);

	if (!ret)
		*out = (uint64_t)v;
	return ret;
}

struct authkey {
	int64_t id;
	bool reusable, ephemeral, revoked;
	uint64_t expires;
	int64_t used_by; /* 0: unused */
};

static int authkey_get(struct coord_store *s, const uint8_t hash[32],
		       struct authkey *k)
{
	sqlite3_stmt *st = stmt(s, "SELECT id, reusable, ephemeral, expires,"
				   " used_by, revoked FROM authkeys"
				   " WHERE hash = ?");
	int rc, ret;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, COORD_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		k->id = sqlite3_column_int64(st, 0);
		k->reusable = sqlite3_column_int(st, 1) != 0;
		k->ephemeral = sqlite3_column_int(st, 2) != 0;
		k->expires = (uint64_t)sqlite3_column_int64(st, 3);
		k->used_by = sqlite3_column_type(st, 4) == SQLITE_NULL
				     ? 0
				     : sqlite3_column_int64(st, 4);
		k->revoked = sqlite3_column_int(st, 5) != 0;
		ret = 0;
	} else {
		ret = rc == SQLITE_DONE ? -ENOKEY : -EIO;
	}
	sqlite3_reset(st);
	return ret;
}

/* The next free address slot: never-used ones first, then the oldest released. */
static int alloc_slot(struct coord_store *s, const struct coord_config *cfg,
		      uint64_t *slot)
{
	int64_t v;
	int ret;

	ret = query_int(s, stmt(s, "SELECT IFNULL(MAX(slot), 0) FROM slots"),
			&v);
	if (ret)
		return ret;
	if ((uint64_t)v < max_slot(cfg)) {
		*slot = (uint64_t)v + 1;
		return step_done(s, stmt(s, "INSERT INTO slots (slot) VALUES "
					    "(IFNULL((SELECT MAX(slot) FROM "
					    "slots), 0) + 1)"));
	}
	ret = query_int(s,
			stmt(s, "SELECT slot FROM slots WHERE node_id IS NULL "
				"ORDER BY released, slot LIMIT 1"),
			&v);
	if (ret)
		return ret;
	if (v == 0)
		return -ENOSPC;
	*slot = (uint64_t)v;
	return 0;
}

/* Lowercased hostname, made unique with -2, -3, ...; "" if none free. */
static int pick_name(struct coord_store *s, const char *hostname, char *out,
		     size_t len)
{
	char base[COORD_NAME_STRLEN];
	struct coord_node n;
	size_t i;

	for (i = 0; hostname[i] && i < COORD_MAX_HOSTNAME; i++) {
		char c = hostname[i];
		base[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	base[i] = '\0';
	for (unsigned k = 1; k <= 1000; k++) {
		int ret;
		if (k == 1)
			snprintf(out, len, "%s", base);
		else
			snprintf(out, len, "%.*s-%u", 56, base, k);
		ret = coord_store_node_by_name(s, out, &n);
		if (ret == -ENOENT)
			return 0;
		if (ret)
			return ret;
	}
	out[0] = '\0';
	return 0;
}

static int insert_node(struct coord_store *s, const struct coord_config *cfg,
		       const struct authkey *k, const uint8_t node_key[32],
		       const char *hostname, const uint8_t cred_hash[32],
		       uint64_t now, struct coord_node *out)
{
	char name[COORD_NAME_STRLEN], tmp[2 * COORD_KEY_LEN + 1];
	sqlite3_stmt *st;
	int64_t count, id;
	uint64_t slot;
	int ret;

	ret = query_int(s, stmt(s, "SELECT COUNT(*) FROM nodes"), &count);
	if (ret)
		return ret;
	if (count >= COORD_MAX_NODES)
		return -ENOSPC;
	ret = alloc_slot(s, cfg, &slot);
	if (ret)
		return ret;
	ret = pick_name(s, hostname, name, sizeof(name));
	if (ret)
		return ret;
	/* A unique placeholder until the id (for "node-ID") is known. */
	sodium_bin2hex(tmp, sizeof(tmp), node_key, COORD_KEY_LEN);
	st = stmt(s, "INSERT INTO nodes (node_key, name, cred_hash, slot,"
		     " ephemeral, created, last_seen, authkey_id)"
		     " VALUES (?, ?, ?, ?, ?, ?, 0, ?)");
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, node_key, COORD_KEY_LEN, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name[0] ? name : tmp, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, cred_hash, COORD_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)slot);
	sqlite3_bind_int(st, 5, k->ephemeral);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	sqlite3_bind_int64(st, 7, k->id);
	ret = step_done(s, st);
	if (ret)
		return ret == -EEXIST ? -EIO : ret;
	id = sqlite3_last_insert_rowid(s->db);
	if (!name[0]) {
		snprintf(name, sizeof(name), "node-%" PRId64, id);
		ret = coord_store_node_rename(s, (uint64_t)id, name);
		if (ret)
			return ret == -EEXIST ? -EIO : ret;
	}
	st = stmt(s, "UPDATE slots SET node_id = ?, released = 0 "
		     "WHERE slot = ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)slot);
	ret = step_done(s, st);
	if (ret)
		return ret;
	return coord_store_node_by_id(s, (uint64_t)id, out);
}

static int set_cred(struct coord_store *s, uint64_t id,
		    const uint8_t cred_hash[32])
{
	sqlite3_stmt *st = stmt(s, "UPDATE nodes SET cred_hash = ? "
				   "WHERE id = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, cred_hash, COORD_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	return step_done(s, st);
}

static int mark_used(struct coord_store *s, int64_t key_id, uint64_t node)
{
	sqlite3_stmt *st = stmt(s, "UPDATE authkeys SET used_by = ? "
				   "WHERE id = ? AND used_by IS NULL");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)node);
	sqlite3_bind_int64(st, 2, key_id);
	return step_done(s, st);
}

int coord_store_register(struct coord_store *s,
			 const uint8_t authkey_hash[COORD_HASH_LEN],
			 const uint8_t node_key[COORD_KEY_LEN],
			 const char *hostname,
			 const uint8_t cred_hash[COORD_HASH_LEN], uint64_t now,
			 struct coord_node *out, bool *created)
{
	struct coord_config cfg;
	struct coord_node n;
	struct authkey k;
	bool exists;
	int ret;

	ret = coord_store_config_get(s, &cfg);
	if (ret)
		return ret == -ENOENT ? -EIO : ret;
	ret = begin_durable(s);
	if (ret)
		return ret;
	ret = authkey_get(s, authkey_hash, &k);
	if (ret)
		goto out;
	if (k.revoked) {
		ret = -ENOKEY;
		goto out;
	}
	if (k.expires && now >= k.expires) {
		ret = -EKEYEXPIRED;
		goto out;
	}
	ret = node_by_key(s, node_key, &n);
	if (ret && ret != -ENOENT)
		goto out;
	exists = ret == 0;
	if (!k.reusable && k.used_by &&
	    (!exists || (uint64_t)k.used_by != n.id)) {
		ret = -EKEYREJECTED;
		goto out;
	}
	if (exists)
		ret = set_cred(s, n.id, cred_hash);
	else
		ret = insert_node(s, &cfg, &k, node_key, hostname, cred_hash,
				  now, &n);
	if (!ret)
		ret = mark_used(s, k.id, n.id);
	if (!ret && !exists)
		ret = bump_changes(s);
	if (!ret)
		ret = commit(s);
	if (!ret) {
		*out = n;
		*created = !exists;
	}
out:
	if (ret)
		rollback(s);
	return ret;
}

int coord_store_node_rename(struct coord_store *s, uint64_t id,
			    const char *name)
{
	sqlite3_stmt *st;
	bool own_tx = sqlite3_get_autocommit(s->db) != 0;
	int ret;

	if (!coord_hostname_valid(name))
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			return -EINVAL;
	if (own_tx && (ret = begin_durable(s)))
		return ret;
	st = stmt(s, "UPDATE nodes SET name = ? WHERE id = ?");
	if (!st) {
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	ret = step_done(s, st);
	if (!ret && sqlite3_changes(s->db) == 0)
		ret = -ENOENT;
	if (!ret)
		ret = bump_changes(s);
	if (!ret && own_tx)
		ret = commit(s);
out:
	if (ret && own_tx)
		rollback(s);
	return ret;
}

static int remove_locked(struct coord_store *s, uint64_t id, uint64_t now)
{
	static const char *const sqls[] = {
		"DELETE FROM signals WHERE to_id = ?1 OR from_id = ?1",
		("UPDATE slots SET node_id = NULL, released = ?2 "
		 "WHERE node_id = ?1"),
		"DELETE FROM nodes WHERE id = ?1",
	};
	int ret = 0;

	for (size_t i = 0; i < 3 && !ret; i++) {
		sqlite3_stmt *st = stmt(s, sqls[i]);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
		if (sqlite3_bind_parameter_count(st) >= 2)
			sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
		ret = step_done(s, st);
	}
	if (!ret && sqlite3_changes(s->db) == 0)
		ret = -ENOENT;
	if (!ret)
		ret = bump_changes(s);
	return ret;
}

int coord_store_node_remove(struct coord_store *s, uint64_t id, uint64_t now)
{
	int ret = begin_durable(s);

	if (ret)
		return ret;
	ret = remove_locked(s, id, now);
	if (!ret)
		ret = commit(s);
	if (ret)
		rollback(s);
	return ret;
}

int coord_store_node_touch(struct coord_store *s, uint64_t id,
			   uint64_t last_seen)
{
	sqlite3_stmt *st = stmt(s, "UPDATE nodes SET last_seen = ? "
				   "WHERE id = ? AND last_seen < ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)last_seen);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)last_seen);
	return step_done(s, st);
}

int coord_store_touch_many(struct coord_store *s, const uint64_t *ids, size_t n,
			   uint64_t when)
{
	int ret;

	if (n == 0)
		return 0;
	ret = begin(s);
	for (size_t i = 0; i < n && !ret; i++)
		ret = coord_store_node_touch(s, ids[i], when);
	if (!ret)
		ret = commit(s);
	if (ret)
		rollback(s);
	return ret;
}

int coord_store_remove_stale_ephemeral(struct coord_store *s, uint64_t cutoff,
				       uint64_t now, unsigned *removed)
{
	sqlite3_stmt *st;
	uint64_t ids[64];
	unsigned n = 0;
	int ret;

	*removed = 0;
	ret = begin_durable(s);
	if (ret)
		return ret;
	st = stmt(s, "SELECT id FROM nodes WHERE ephemeral = 1 AND "
		     "MAX(last_seen, created) < ? LIMIT 64");
	if (!st) {
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)cutoff);
	while (n < 64 && sqlite3_step(st) == SQLITE_ROW)
		ids[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	for (unsigned i = 0; i < n && !ret; i++)
		ret = remove_locked(s, ids[i], now);
	if (!ret)
		ret = commit(s);
	if (!ret)
		*removed = n;
out:
	if (ret)
		rollback(s);
	return ret;
}

/* ---------------------------------------------------------------- signals */

static void signal_digest(const struct coord_signal_req *req, uint8_t out[32])
{
	crypto_hash_sha256_state h;
	uint8_t to[8];

	for (int i = 0; i < 8; i++)
		to[i] = (uint8_t)(req->to >> (56 - 8 * i));
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, to, sizeof(to));
	crypto_hash_sha256_update(&h, req->payload, req->payload_len);
	crypto_hash_sha256_final(&h, out);
}

/* An earlier message with the same (from, id): 1 if found, 0 if not. */
static int find_dup(struct coord_store *s, uint64_t from, const char *id,
		    uint64_t cutoff, const uint8_t digest[32], uint64_t *seq)
{
	sqlite3_stmt *st = stmt(s, "SELECT seq, digest, created FROM signals "
				   "WHERE from_id = ? AND msg_id = ?");
	int rc, ret = 0;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const void *d = sqlite3_column_blob(st, 1);
		uint64_t created = (uint64_t)sqlite3_column_int64(st, 2);
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (created < cutoff)
			ret = 2; /* expired: may be reused */
		else if (d && sqlite3_column_bytes(st, 1) == 32 &&
			 sodium_memcmp(d, digest, 32) == 0)
			ret = 1;
		else
			ret = -EEXIST;
	} else if (rc != SQLITE_DONE) {
		ret = -EIO;
	}
	sqlite3_reset(st);
	return ret;
}

static int check_caps(struct coord_store *s, uint64_t from, uint64_t to,
		      uint64_t cutoff)
{
	sqlite3_stmt *st;
	int64_t n;
	int ret;

	st = stmt(s, "SELECT COUNT(*) FROM signals WHERE to_id = ? AND "
		     "payload IS NOT NULL AND created >= ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)to);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)cutoff);
	ret = query_int(s, st, &n);
	if (ret)
		return ret;
	if (n >= COORD_SIGNAL_MAX_PENDING)
		return -ENOBUFS;
	st = stmt(s, "SELECT COUNT(*) FROM signals WHERE from_id = ? AND "
		     "created >= ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)cutoff);
	ret = query_int(s, st, &n);
	if (ret)
		return ret;
	return n >= COORD_SIGNAL_MAX_PER_SENDER ? -ENOBUFS : 0;
}

static int delete_seq(struct coord_store *s, uint64_t seq)
{
	sqlite3_stmt *st = stmt(s, "DELETE FROM signals WHERE seq = ?");

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	return step_done(s, st);
}

int coord_store_signal_put(struct coord_store *s, uint64_t from,
			   const struct coord_signal_req *req, uint64_t now,
			   uint64_t *seq, bool *dup)
{
	uint64_t cutoff =
		now > COORD_SIGNAL_MAX_AGE_S ? now - COORD_SIGNAL_MAX_AGE_S : 0;
	struct coord_node to;
	uint8_t digest[32];
	uint64_t old = 0;
	sqlite3_stmt *st;
	int ret;

	signal_digest(req, digest);
	ret = begin(s);
	if (ret)
		return ret;
	ret = coord_store_node_by_id(s, req->to, &to);
	if (ret)
		goto out;
	ret = find_dup(s, from, req->id, cutoff, digest, &old);
	if (ret == 1) {
		*seq = old;
		*dup = true;
		ret = commit(s);
		goto out;
	}
	if (ret == 2)
		ret = delete_seq(s, old);
	if (ret)
		goto out;
	ret = check_caps(s, from, req->to, cutoff);
	if (ret)
		goto out;
	st = stmt(s, "INSERT INTO signals (from_id, to_id, msg_id, digest,"
		     " payload, created) VALUES (?, ?, ?, ?, ?, ?)");
	if (!st) {
		ret = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)req->to);
	sqlite3_bind_text(st, 3, req->id, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, digest, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, req->payload, (int)req->payload_len,
			  SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)now);
	ret = step_done(s, st);
	if (ret)
		goto out;
	old = (uint64_t)sqlite3_last_insert_rowid(s->db);
	ret = commit(s);
	if (!ret) {
		*seq = old;
		*dup = false;
	}
out:
	if (ret)
		rollback(s);
	return ret;
}

int coord_store_signal_ack(struct coord_store *s, uint64_t to, uint64_t after)
{
	sqlite3_stmt *st;

	if (after == 0)
		return 0;
	st = stmt(s, "UPDATE signals SET payload = NULL WHERE to_id = ? AND "
		     "seq <= ? AND payload IS NOT NULL");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)to);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	return step_done(s, st);
}

int coord_store_signal_fetch(struct coord_store *s, uint64_t to, uint64_t after,
			     unsigned limit, uint64_t now,
			     int (*cb)(const struct coord_signal *, void *),
			     void *arg, bool *more)
{
	uint64_t cutoff =
		now > COORD_SIGNAL_MAX_AGE_S ? now - COORD_SIGNAL_MAX_AGE_S : 0;
	sqlite3_stmt *st;
	struct coord_signal m;
	int rc, n = 0, ret = 0;

	st = stmt(s,
		  "SELECT s.seq, s.from_id, n.node_key, s.msg_id,"
		  " s.created, s.payload FROM signals s"
		  " JOIN nodes n ON n.id = s.from_id"
		  " WHERE s.to_id = ? AND s.seq > ? AND s.payload IS NOT NULL"
		  " AND s.created >= ? ORDER BY s.seq LIMIT ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)to);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)cutoff);
	sqlite3_bind_int(st, 4, (int)limit + 1);
	*more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const void *key = sqlite3_column_blob(st, 2);
		const char *id = (const char *)sqlite3_column_text(st, 3);
		if ((unsigned)n == limit) {
			*more = true;
			break;
		}
		memset(&m, 0, sizeof(m));
		m.seq = (uint64_t)sqlite3_column_int64(st, 0);
		m.from = (uint64_t)sqlite3_column_int64(st, 1);
		if (key && sqlite3_column_bytes(st, 2) == COORD_KEY_LEN)
			memcpy(m.from_key, key, COORD_KEY_LEN);
		snprintf(m.id, sizeof(m.id), "%s", id ? id : "");
		m.sent_at = (uint64_t)sqlite3_column_int64(st, 4);
		m.payload = sqlite3_column_blob(st, 5);
		m.payload_len = (size_t)sqlite3_column_bytes(st, 5);
		ret = cb(&m, arg);
		if (ret)
			break;
		n++;
	}
	if (!ret && rc != SQLITE_ROW && rc != SQLITE_DONE)
		ret = -EIO;
	sqlite3_reset(st);
	return ret ? ret : n;
}

int coord_store_signal_purge(struct coord_store *s, uint64_t now)
{
	sqlite3_stmt *st;

	if (now <= COORD_SIGNAL_MAX_AGE_S)
		return 0;
	st = stmt(s, "DELETE FROM signals WHERE created < ?");
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1,
			   (sqlite3_int64)(now - COORD_SIGNAL_MAX_AGE_S));
	return step_done(s, st);
}
