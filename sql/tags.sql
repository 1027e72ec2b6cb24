-- parse_tags(), clean_tags() and html_unescape() (src/text/, fuzzed by
-- test/fuzz/): splitting, trimming, dropping empty and repeated tags, the
-- separator, NULLs, and the references html_unescape decodes or keeps.
SELECT animerec.parse_tags('Action, Comedy,,action , Comedy');
SELECT animerec.parse_tags(E' \tDrama\n,Slice of Life\r');
SELECT animerec.parse_tags('');
SELECT animerec.parse_tags(' , ,');
SELECT animerec.parse_tags('Sci-Fi|Drama|Sci-Fi', '|');
SELECT animerec.parse_tags('a :: b ::c::a', '::');
SELECT animerec.parse_tags('no separator here', ';');
SELECT animerec.parse_tags(NULL) IS NULL AS null_in_null_out;
SELECT animerec.parse_tags('a,b', '');
SELECT cardinality(animerec.parse_tags(string_agg('t' || (i % 1000), ','))) AS distinct_of_100000
  FROM generate_series(1, 100000) i;
SELECT animerec.clean_tags(ARRAY[' Action', NULL, '', 'Comedy ', 'Action', E'\t']);
SELECT animerec.clean_tags('{}'::text[]);
SELECT animerec.clean_tags('{{a, b}, {b, c}}'::text[]);
SELECT animerec.html_unescape('Fate&#039;s &quot;Heaven&#x27;s Feel&quot; &amp; &lt;3&gt;');
SELECT animerec.html_unescape('&#x4E00;&#128512;&nbsp;|') = E'\u4E00\U0001F600\u00A0|' AS decoded;
SELECT animerec.html_unescape('AT&T &amp &#0; &#xD800; &#x110000; &unknown; &amp;amp;');
