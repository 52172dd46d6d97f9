-- Schema v20 (PostgreSQL): nothing changes here.
--
-- On MySQL, 0020 lets the award flush count its own bucket moves, as
-- PostgreSQL's flush has since 0019. The file keeps the three backends at the
-- same schema version.
SELECT 1;
