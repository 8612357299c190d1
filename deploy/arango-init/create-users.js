// Creates the store's database, its collections and the least-privilege users whose password
// files exist in /run/secrets (compose secrets), with explicit per-collection grants.
//
// It runs once, when the arangodb container initialises an empty data volume
// (docker-compose.yml mounts this folder at /docker-entrypoint-initdb.d; the entrypoint runs
// *.js files with arangosh as root). It is idempotent: run it again after a schema upgrade
// that adds collections, and whenever collections were dropped and created again, e.g. by a
// restore (dropping a collection drops its grants), with
//
//   docker compose exec arangodb sh -c 'arangosh --server.username root \
//     --server.password "$(cat /run/secrets/arango_root_password)" \
//     --javascript.execute /docker-entrypoint-initdb.d/create-users.js'
//
//   kg_admin    database rw, collections rw   graphrag schema (collections, indexes, view)
//   kg_writer   database ro, collections rw   ingestion, the HTTP API, graphrag analyze
//               except meta ro                (the schema record: graphrag schema only)
//   kg_reader   database ro, collections ro   query service, LLM-written AQL
//   kg_analyst  database ro, collections ro   web UI (Graph Viewer, saved queries)
//
// Grants name each collection, never the "*" wildcard (it would also cover collections
// created later). ArangoDB grants access only to collections that exist, so the empty
// collections are created here first; `graphrag schema --store arango` (kg_admin) then adds
// the named graph, the indexes, the search view and the meta document. The lists mirror
// graphrag/stores/arango/names.py and users.py (tests/unit/stores/arango/test_privileges.py
// keeps them in step). The same grants from Python: graphrag.stores.arango.users.create_users.
'use strict';

const fs = require('fs');
const internal = require('internal');
const users = require('@arangodb/users');
const db = require('@arangodb').db;

const dbName = internal.env.GRAPHRAG_DATABASE || 'graphrag';

const DOCUMENT_COLLECTIONS = [
  'documents', 'chunks', 'entities', 'communities',
  'merges', 'meta', 'surfaces', 'resolution_keys', 'resolution_links', 'resolution_queue',
  'locks', 'jobs', 'api_keys', 'entity_ranks', 'analysis', 'evidence',
];
const EDGE_COLLECTIONS = ['relations', 'mentions', 'part_of', 'member_of'];
const ALL_COLLECTIONS = DOCUMENT_COLLECTIONS.concat(EDGE_COLLECTIONS);
const WRITER_READ_ONLY = ['meta'];

const plan = [
  { user: 'kg_admin', secret: 'kg_admin_password', database: 'rw', collections: 'rw', readOnly: [] },
  { user: 'kg_writer', secret: 'kg_writer_password', database: 'ro', collections: 'rw', readOnly: WRITER_READ_ONLY },
  { user: 'kg_reader', secret: 'kg_reader_password', database: 'ro', collections: 'ro', readOnly: [] },
  { user: 'kg_analyst', secret: 'kg_analyst_password', database: 'ro', collections: 'ro', readOnly: [] },
];

function readSecret(name) {
  const path = '/run/secrets/' + name;
  if (fs.exists(path)) {
    return fs.read(path).trim();
  }
  const fromEnv = internal.env[name.toUpperCase()];
  return fromEnv ? String(fromEnv).trim() : '';
}

function ensureCollections() {
  db._useDatabase(dbName);
  try {
    DOCUMENT_COLLECTIONS.forEach(function (name) {
      if (db._collection(name) === null) {
        db._createDocumentCollection(name);
        print('graphrag: created collection ' + name);
      }
    });
    EDGE_COLLECTIONS.forEach(function (name) {
      if (db._collection(name) === null) {
        db._createEdgeCollection(name);
        print('graphrag: created edge collection ' + name);
      }
    });
  } finally {
    db._useDatabase('_system');
  }
}

if (db._databases().indexOf(dbName) === -1) {
  db._createDatabase(dbName);
  print('graphrag: created database ' + dbName);
}
ensureCollections();

plan.forEach(function (entry) {
  const password = readSecret(entry.secret);
  if (!password) {
    print('graphrag: no ' + entry.secret + ' secret, user ' + entry.user + ' not created');
    return;
  }
  if (users.exists(entry.user)) {
    users.update(entry.user, password, true);
  } else {
    users.save(entry.user, password, true);
  }
  users.grantDatabase(entry.user, dbName, entry.database);
  try {
    // a "*" grant of an earlier version of this script would cover future collections
    users.revokeCollection(entry.user, dbName, '*');
  } catch (err) {
    // no wildcard was set
  }
  ALL_COLLECTIONS.forEach(function (name) {
    const level = entry.readOnly.indexOf(name) === -1 ? entry.collections : 'ro';
    users.grantCollection(entry.user, dbName, name, level);
  });
  print('graphrag: user ' + entry.user + ': database ' + entry.database + ', collections ' +
        entry.collections + (entry.readOnly.length ? ' except ' + entry.readOnly.join(', ') +
        ' ro' : ''));
});
