-- Sign-off as the notice's form has it (#14): the 核对人 (checker) signs, then the 审核人
-- (reviewer), a different person, signs the same report; each row is one signature with its
-- own time. A report that does not balance or has rejected rows pending is signed only when
-- the signer accepts it as it is and says why: the verdict signed and that reason are kept.
ALTER TABLE cutover_signoff ADD COLUMN role TEXT NOT NULL DEFAULT 'checker' CHECK (role IN ('checker', 'reviewer'));
ALTER TABLE cutover_signoff ADD COLUMN verdict TEXT;
ALTER TABLE cutover_signoff ADD COLUMN accepted_reason TEXT;
