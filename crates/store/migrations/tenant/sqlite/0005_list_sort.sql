-- Lists sorted by when a record was last changed or created (newest or oldest first); the
-- id breaks ties and makes the cursor exact. Read backwards for descending order.
CREATE INDEX companies_by_updated ON companies(updated_at, id);
CREATE INDEX companies_by_created ON companies(created_at, id);
CREATE INDEX persons_by_updated ON persons(updated_at, id);
CREATE INDEX persons_by_created ON persons(created_at, id);
CREATE INDEX activities_by_updated ON activities(updated_at, id);
CREATE INDEX activities_by_created ON activities(created_at, id);
CREATE INDEX sales_by_updated ON sales(updated_at, id);
CREATE INDEX sales_by_created ON sales(created_at, id);
