from output_review.service.app import main

main()
