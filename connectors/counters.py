"""Names of the Beam metrics every stage reports; the CLI's run summary reads them back."""

NAMESPACE = "wirewatch"

RECORDS_READ = "records_read"
ARTICLES_NORMALIZED = "articles_normalized"
ARTICLES_WRITTEN = "articles_written"
ARTICLES_DUPLICATE = "articles_duplicate"  # writes the store refused as already there
ARTICLES_ALREADY_STORED = "articles_already_stored"  # read again, stored by an earlier run
DEAD_LETTERS = "dead_letters"
FEEDS_POLLED = "feeds_polled"
FEEDS_NOT_MODIFIED = "feeds_not_modified"
FEEDS_FAILED = "feeds_failed"
ARTICLES_CANONICAL = "articles_canonical"
ARTICLES_FOLDED = "articles_folded"  # copies recognised by deduplication (exact or near)
ARTICLES_NEAR_DUPLICATE = "articles_near_duplicate"
LINEAGE_UPDATES = "lineage_updates"
ARTICLES_TAGGED = "articles_tagged"
ALERTS_FIRED = "alerts_fired"  # new alerts (a rule about a new story, window or bucket)
ALERTS_UPDATED = "alerts_updated"  # existing alerts changed (a copy, a later article, a suppression)
NOTIFICATIONS_FAILED = "notifications_failed"  # deliveries that failed after their retries (recorded)
ALERT_HISTORY_SCANS = "alert_history_scans"  # reads of the stored articles rules' memories are rebuilt from
ALERT_HISTORY_ARTICLES = "alert_history_articles"  # stored articles those reads returned
DEDUP_UNSETTLED = "dedup_unsettled"  # articles whose copy group was still growing when the rounds ran out
PAGES_FETCHED = "pages_fetched"  # linked pages of short feed items asked for (pipelines.pages)
PAGES_EXTRACTED = "pages_extracted"  # of which the text became the body
