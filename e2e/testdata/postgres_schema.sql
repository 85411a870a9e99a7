-- The recipe's three tables with PostgreSQL types, and the rows the
-- snapshot reads. Runs with search_path set to the test's schema.
CREATE TABLE customers (
  id integer PRIMARY KEY,
  email varchar(255) NOT NULL,
  full_name varchar(100),
  bio text,
  registration_date timestamp NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  birth_date date,
  balance numeric(10,2) NOT NULL DEFAULT 0,
  is_vip boolean NOT NULL DEFAULT false,
  status varchar(20) NOT NULL DEFAULT 'active',
  preferences jsonb,
  external_id uuid NOT NULL,
  lifetime_events bigint,
  tags text[],
  session_length interval,
  score double precision,
  rating real,
  avatar bytea,
  wake_time time(3),
  ratio numeric
);

CREATE TABLE orders (
  order_id bigint PRIMARY KEY,
  customer_id integer NOT NULL,
  order_date date NOT NULL,
  total_amount numeric(10,2) NOT NULL,
  status varchar(20) NOT NULL,
  notes text,
  created_at timestamp(3) NOT NULL,
  shipped_at timestamptz
);

CREATE TABLE order_settings (
  order_id bigint NOT NULL,
  setting_key varchar(50) NOT NULL,
  setting_value text,
  is_enabled boolean NOT NULL DEFAULT true,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (order_id, setting_key)
);

INSERT INTO customers (id, email, full_name, bio, registration_date, updated_at, birth_date, balance, is_vip, status,
  preferences, external_id, lifetime_events, tags, session_length, score, rating, avatar, wake_time, ratio)
SELECT i, 'user' || i || '@example.com', 'User ' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE repeat('bio ', i) END,
  timestamp '2023-01-01 00:00:00' + i * interval '1 day 1 second',
  timestamptz '2024-03-01 12:00:00.25+02' + i * interval '1 minute 0.000001 second',
  date '1960-05-17' + i * 365, i * 10.25 - 50, i % 2 = 1, (ARRAY['active', 'inactive', 'banned'])[1 + i % 3],
  jsonb_build_object('lang', 'en', 'n', i, 'tags', jsonb_build_array('a', i), 'ratio', i / 4.0),
  md5(i::text)::uuid, i * 1000000000000, ARRAY['t' || i, 'x'], make_interval(months => i, days => i, secs => i * 1.5),
  i / 3.0, i / 7.0, decode(md5(i::text), 'hex'), time '07:30:00.125' + i * interval '61 seconds', i / 4.0
FROM generate_series(1, 20) i;

-- TOASTed: a text far above the 2 kB TOAST threshold even compressed.
INSERT INTO customers (id, email, full_name, bio, registration_date, external_id, tags)
VALUES (100, 'toast@example.com', 'Zoë Ünicode ✓ 🚀', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 600) g),
  '1969-07-20 20:17:40.000001', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', ARRAY['with space', 'quote"d', NULL]),
  (101, 'nulls@example.com', NULL, NULL, '2000-01-01 00:00:00', '00000000-0000-0000-0000-000000000000', NULL);

INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, notes, created_at, shipped_at)
SELECT i, 1 + i % 20, date '2024-01-01' + i, i * 19.99, (ARRAY['new', 'paid', 'shipped'])[1 + i % 3],
  CASE WHEN i % 4 = 0 THEN NULL ELSE 'note ' || i END, timestamp '2024-01-01 08:00:00.123' + i * interval '1 hour',
  CASE WHEN i % 3 = 2 THEN timestamptz '2024-01-05 10:00:00+00' + i * interval '1 hour' END
FROM generate_series(1, 40) i;

INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at)
SELECT i, k, k || '-' || i, i % 2 = 0, timestamptz '2024-01-01 00:00:00.001+00' + i * interval '1 minute'
FROM generate_series(1, 20) i, unnest(ARRAY['color', 'gift_wrap']) k;
