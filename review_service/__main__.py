from enclave.review_service.app import main

main()
