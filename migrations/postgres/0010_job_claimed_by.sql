-- Which service instance (host and process) claimed a job last: with several instances on one
-- database, an operator (and the test of a killed instance) can see whose work a job was.
ALTER TABLE jobs ADD COLUMN claimed_by TEXT;
