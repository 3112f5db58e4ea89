from ingestion.cli import main

raise SystemExit(main())
