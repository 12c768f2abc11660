-- The analytics schema holds only derived objects: it is rebuilt from sql/analytics/ when they change.
DROP SCHEMA IF EXISTS analytics CASCADE;
CREATE SCHEMA analytics;
COMMENT ON SCHEMA analytics IS 'What analysts, BI tools and Superset read: views over the warehouse, one row meaning per view (see docs/data_dictionary.md).';
