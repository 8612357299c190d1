// Runs once, when the arangodb container initialises an empty data volume
// (docker-compose.yml mounts this folder at /docker-entrypoint-initdb.d; the entrypoint runs
// *.js files with arangosh as root). Creates the store's database and the least-privilege
// users whose password files exist in /run/secrets (compose secrets):
//
//   kg_admin    database rw, collections rw   schema: collections, indexes, views, graph
//   kg_writer   database ro, collections rw   ingestion (graphrag ingest / migrate)
//   kg_reader   database ro, collections ro   query API, LLM-written AQL
//   kg_analyst  database ro, collections ro   web UI (Graph Viewer, saved queries)
//
// Collection grants use the wildcard "*" because the collections do not exist yet (they are
// created later by `graphrag schema --store arango` as kg_admin). Explicit per-collection
// grants: graphrag.stores.arango.users.create_users (docs/arango.md).
'use strict';

const fs = require('fs');
const internal = require('internal');
const users = require('@arangodb/users');
const db = require('@arangodb').db;

const dbName = internal.env.GRAPHRAG_DATABASE || 'graphrag';

function readSecret(name) {
  const path = '/run/secrets/' + name;
  if (fs.exists(path)) {
    return fs.read(path).trim();
  }
  const fromEnv = internal.env[name.toUpperCase()];
  return fromEnv ? String(fromEnv).trim() : '';
}

if (db._databases().indexOf(dbName) === -1) {
  db._createDatabase(dbName);
  print('graphrag: created database ' + dbName);
}

const plan = [
  { user: 'kg_admin', secret: 'kg_admin_password', database: 'rw', collections: 'rw' },
  { user: 'kg_writer', secret: 'kg_writer_password', database: 'ro', collections: 'rw' },
  { user: 'kg_reader', secret: 'kg_reader_password', database: 'ro', collections: 'ro' },
  { user: 'kg_analyst', secret: 'kg_analyst_password', database: 'ro', collections: 'ro' },
];

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
  users.grantCollection(entry.user, dbName, '*', entry.collections);
  print('graphrag: user ' + entry.user + ': database ' + entry.database +
        ', collections ' + entry.collections);
});
