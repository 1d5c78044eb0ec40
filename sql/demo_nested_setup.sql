-- The nested race demonstration (versync demo race --nested): the accounts of the flat demo
-- become the roots of documents that carry their branch (a row many accounts share, renamed
-- while the workers race), their transactions (moved between accounts) with each one's
-- merchant (a shared grandchild, renamed too) and their tags through a link table. Recreated
-- from scratch on every run, with versync's bookkeeping in @schema@.
DROP SCHEMA IF EXISTS versync_demo CASCADE;
DROP SCHEMA IF EXISTS @schema@ CASCADE;
CREATE SCHEMA versync_demo;
CREATE TABLE versync_demo.branch (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE versync_demo.merchant (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE versync_demo.tag (id integer PRIMARY KEY, label text NOT NULL);
-- version is unused here (nested documents take a version the worker draws) but kept so the
-- flat demo's statements run unchanged.
CREATE TABLE versync_demo.accounts (
    id         integer PRIMARY KEY,
    owner      text NOT NULL,
    balance    bigint NOT NULL,
    version    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    branch_id  integer DEFAULT 1 + floor(random() * 8)::integer
);
CREATE INDEX ON versync_demo.accounts (branch_id);
CREATE TABLE versync_demo.txn (
    id          bigserial PRIMARY KEY,
    account_id  integer NOT NULL,
    merchant_id integer,
    amount      bigint NOT NULL
);
CREATE INDEX ON versync_demo.txn (account_id);
CREATE INDEX ON versync_demo.txn (merchant_id);
CREATE TABLE versync_demo.account_tag (
    account_id integer NOT NULL,
    tag_id     integer NOT NULL,
    PRIMARY KEY (account_id, tag_id)
);
CREATE INDEX ON versync_demo.account_tag (tag_id);
INSERT INTO versync_demo.branch SELECT g, 'branch-' || g FROM generate_series(1, 8) g;
INSERT INTO versync_demo.merchant SELECT g, 'merchant-' || g FROM generate_series(1, 16) g;
INSERT INTO versync_demo.tag SELECT g, 'tag-' || g FROM generate_series(1, 6) g;
