-- The first characters of each token after `sbx_`, shown in token lists so a leaked token can
-- be matched to its row. Tokens made before this migration have none.
ALTER TABLE tokens ADD COLUMN prefix TEXT;
