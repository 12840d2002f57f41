/** How the test surface counts this process's watch subscribers of a user (wired to the watch hub). */
export type WatchSubscriberCount = (userId: string) => number;
export const WATCH_SUBSCRIBER_COUNT = Symbol('WATCH_SUBSCRIBER_COUNT');
