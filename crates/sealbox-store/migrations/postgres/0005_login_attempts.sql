-- Sign-in attempts counted per limit key and fixed window, before any password is checked.
-- Keep in step with ../sqlite/0005_login_attempts.sql (same table, columns and indexes).
-- `limit_key` is what a limit counts: `client:<address>` (any e-mail from one client address, an
-- IPv6 client by its /64) or `member:<workspace id>:<e-mail>:client:<address>`. `window_start`
-- is the window's first millisecond. Rows of old windows are deleted as new windows start.

CREATE TABLE login_attempts (
    limit_key TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    PRIMARY KEY (limit_key, window_start)
);

CREATE INDEX login_attempts_by_window ON login_attempts (window_start);
