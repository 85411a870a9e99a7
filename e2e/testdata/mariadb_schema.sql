-- The recipe's three tables (customers, orders, order_settings) with the
-- types a MariaDB shop really uses, and the rows the snapshot reads.
CREATE TABLE customers (
  id INT NOT NULL PRIMARY KEY,
  email VARCHAR(255) NOT NULL,
  full_name VARCHAR(100) NULL,
  bio TEXT NULL,
  registration_date DATETIME NOT NULL,
  last_login DATETIME(6) NULL,
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  birth_date DATE NULL,
  balance DECIMAL(10,2) NOT NULL DEFAULT 0.00,
  is_vip TINYINT(1) NOT NULL DEFAULT 0,
  status ENUM('active','inactive','banned') NOT NULL DEFAULT 'active',
  preferences JSON NULL,
  lifetime_events BIGINT NULL,
  score DOUBLE NULL,
  rating FLOAT NULL,
  wake_time TIME(3) NULL,
  signup_year YEAR NULL,
  flags BIT(10) NULL,
  avatar VARBINARY(64) NULL,
  interests SET('books','music','sports') NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE orders (
  order_id BIGINT NOT NULL PRIMARY KEY,
  customer_id INT NOT NULL,
  order_date DATE NOT NULL,
  total_amount DECIMAL(10,2) NOT NULL,
  status VARCHAR(20) NOT NULL,
  notes TEXT NULL,
  created_at DATETIME NOT NULL,
  shipped_at TIMESTAMP NULL DEFAULT NULL,
  processing_time TIME NULL,
  exact_total DECIMAL(40,12) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE order_settings (
  order_id BIGINT NOT NULL,
  setting_key VARCHAR(50) NOT NULL,
  setting_value TEXT NULL,
  is_enabled TINYINT(1) NOT NULL DEFAULT 1,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (order_id, setting_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO customers (id, email, full_name, bio, registration_date, last_login, updated_at, birth_date, balance,
  is_vip, status, preferences, lifetime_events, score, rating, wake_time, signup_year, flags, avatar, interests)
SELECT seq, CONCAT('user', seq, '@example.com'), CONCAT('User ', seq), IF(seq % 3 = 0, NULL, REPEAT('bio ', seq)),
  TIMESTAMP '2023-01-01 00:00:00' + INTERVAL seq DAY + INTERVAL seq SECOND,
  IF(seq % 2 = 0, NULL, TIMESTAMP '2024-02-29 23:59:59.123456' - INTERVAL seq HOUR),
  TIMESTAMP '2024-03-01 12:00:00.250' + INTERVAL seq MINUTE,
  DATE '1960-05-17' + INTERVAL seq YEAR,
  seq * 10.25 - 50, seq % 2, ELT(1 + seq % 3, 'active', 'inactive', 'banned'),
  JSON_OBJECT('lang', 'en', 'n', seq, 'tags', JSON_ARRAY('a', seq), 'ratio', seq / 4),
  seq * 1000000000000, seq / 3, seq / 7, ADDTIME('07:30:00.125', SEC_TO_TIME(seq * 61)), 2000 + seq,
  513 + seq, UNHEX(MD5(seq)), IF(seq % 2 = 0, 'books,music', 'sports')
FROM seq_1_to_20;

-- Edge values: non-ASCII text, NULLs, dates before 1970, a negative
-- decimal whose Connect encoding (base64 "1234") is also decimal text.
INSERT INTO customers (id, email, full_name, bio, registration_date, last_login, birth_date, balance, is_vip, status,
  preferences, score, rating, wake_time, signup_year, flags, avatar, interests)
VALUES (100, 'zoe@example.com', 'Zoë Ünicode ✓ 🚀', 'line one
line "two"; tab	end', '1969-07-20 20:17:40', '1969-07-20 20:17:40.000001', '1815-12-10', -26588.24, 1, 'inactive',
  '{"nested": {"b": [1, 2.50, null], "a": "ü"}, "empty": {}}', -1.5e-7, 3.25, '00:00:00', 1901, b'1111111111', x'00FF00', ''),
  (101, 'nulls@example.com', NULL, NULL, '2000-01-01 00:00:00', NULL, NULL, 0, 0, 'active', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

INSERT INTO orders (order_id, customer_id, order_date, total_amount, status, notes, created_at, shipped_at, processing_time, exact_total)
SELECT seq, 1 + seq % 20, DATE '2024-01-01' + INTERVAL seq DAY, seq * 19.99, ELT(1 + seq % 3, 'new', 'paid', 'shipped'),
  IF(seq % 4 = 0, NULL, CONCAT('note ', seq)), TIMESTAMP '2024-01-01 08:00:00' + INTERVAL seq HOUR,
  IF(seq % 3 = 2, TIMESTAMP '2024-01-05 10:00:00' + INTERVAL seq HOUR, NULL),
  SEC_TO_TIME(seq * 1800), seq * 1234567890123456.000000000001
FROM seq_1_to_40;

INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at)
SELECT seq, 'color', ELT(1 + seq % 3, 'red', 'green', 'blue'), 1, TIMESTAMP '2024-01-01 00:00:00.001' + INTERVAL seq MINUTE FROM seq_1_to_20;
INSERT INTO order_settings (order_id, setting_key, setting_value, is_enabled, updated_at)
SELECT seq, 'gift_wrap', IF(seq % 2 = 0, 'yes', 'no'), seq % 2, TIMESTAMP '2024-01-01 00:00:00.002' + INTERVAL seq MINUTE FROM seq_1_to_20;
