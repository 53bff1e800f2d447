"""Who is it: names, galleries and their search, open-set rules, recognition, verification, enrolment and tracking."""
