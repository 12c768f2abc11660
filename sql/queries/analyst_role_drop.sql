-- Removes the analyst role: its privileges (and anything it owns) in this database, then the role.
-- A role is cluster-wide: DROP ROLE fails while another database still grants it something.
DROP OWNED BY {role};
DROP ROLE {role};
