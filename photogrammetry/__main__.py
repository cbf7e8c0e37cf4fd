from photogrammetry.cli import main

main()
