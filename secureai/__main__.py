from secureai.cli import main

raise SystemExit(main())
